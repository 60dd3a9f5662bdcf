"""Web UI routes for kith.community (mounted under /community/)."""

from django.urls import path

from kith.community import views

app_name = "community"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("similar/", views.similar, name="similar"),
    path("moderation/", views.moderation, name="moderation"),
    path("mine/", views.mine, name="mine"),
    path("trust-levels/", views.trust_levels, name="trust_levels"),
    path("s/<slug:slug>/", views.space, name="space"),
    path("s/<slug:slug>/ask/", views.ask, name="ask"),
    path("s/<slug:slug>/rules/", views.rules, name="rules"),
    path("t/<uuid:public_id>/", views.topic, name="topic"),
    path("t/<uuid:public_id>/answer/", views.answer, name="answer"),
    path("t/<uuid:public_id>/moderate/", views.moderate, name="moderate"),
    path("p/<uuid:public_id>/vote/", views.vote, name="vote"),
    path("p/<uuid:public_id>/accept/", views.accept, name="accept"),
    path("p/<uuid:public_id>/comment/", views.comment, name="comment"),
    path("p/<uuid:public_id>/flag/", views.flag, name="flag"),
    path("p/<uuid:public_id>/edit/", views.edit, name="edit"),
    path("p/<uuid:public_id>/review/", views.review, name="review"),
    path("members/<uuid:public_id>/trust/", views.set_trust, name="set_trust"),
    path("from-case/<uuid:public_id>/", views.publish_case, name="publish_case"),
]
