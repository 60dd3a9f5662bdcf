"""Web UI routes for kith.insights."""

from django.urls import path

from kith.insights import views, views_value
from kith.insights.urls_research import urlpatterns as research_urlpatterns

app_name = "insights"

urlpatterns: list = [
    path("", views.home, name="home"),
    path("influence/progress/", views.progress, name="progress"),
    path("influence/recompute/", views.recompute, name="recompute"),
    *views_value.urlpatterns,
]
urlpatterns += research_urlpatterns
