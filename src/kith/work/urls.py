"""Web UI routes for kith.work: My day, activities, meetings, calendar settings, the feed."""

from django.urls import path

from kith.work import views

app_name = "work"

urlpatterns = [
    path("", views.my_day, name="my_day"),
    path("activities/", views.activity_list, name="activities"),
    path("activities/new/", views.activity_new, name="activity_new"),
    path("activities/<uuid:public_id>/", views.activity_detail, name="activity"),
    path("activities/<uuid:public_id>/edit/", views.activity_edit, name="activity_edit"),
    path("activities/<uuid:public_id>/delete/", views.activity_delete, name="activity_delete"),
    path(
        "activities/<uuid:public_id>/complete/", views.activity_complete, name="activity_complete"
    ),
    path("meetings/", views.meeting_list, name="meetings"),
    path("meetings/new/", views.meeting_new, name="meeting_new"),
    path("meetings/import/", views.meeting_import, name="meeting_import"),
    path("meetings/<uuid:public_id>/", views.meeting_detail, name="meeting"),
    path("meetings/<uuid:public_id>/edit/", views.meeting_edit, name="meeting_edit"),
    path("meetings/<uuid:public_id>/delete/", views.meeting_delete, name="meeting_delete"),
    path("calendar/", views.calendar_settings, name="calendar"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="feed"),
]
