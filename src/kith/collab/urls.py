"""Web UI routes for kith.collab (mounted under /collab/)."""

from django.urls import path

from kith.collab import views

app_name = "collab"

urlpatterns = [
    path("", views.my_feed, name="my_feed"),
    path("stream/", views.stream, name="stream"),
    path("suggest/", views.suggest, name="suggest"),
    path("feed/<str:kind>/<uuid:public_id>/", views.feed, name="feed"),
    path("follow/<str:kind>/<uuid:public_id>/", views.follow_toggle, name="follow"),
    path("records/<str:kind>/<uuid:public_id>/", views.record, name="record"),
    path("posts/<uuid:public_id>/", views.post_detail, name="post"),
    path("posts/<uuid:public_id>/comments/", views.comment, name="comment"),
    path("posts/<uuid:public_id>/edit/", views.edit, name="edit"),
    path("posts/<uuid:public_id>/delete/", views.delete, name="delete"),
    path("posts/<uuid:public_id>/react/", views.react, name="react"),
    path("posts/<uuid:public_id>/attachments/", views.attach, name="attach"),
    path("comments/<uuid:public_id>/delete/", views.delete_comment, name="delete_comment"),
    path("attachments/<uuid:public_id>/", views.attachment, name="attachment"),
    path("groups/", views.groups, name="groups"),
    path("groups/<uuid:public_id>/", views.group, name="group"),
    path("topics/<slug:slug>/", views.topic, name="topic"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/badge/", views.badge, name="badge"),
    path("notifications/list/", views.notification_list, name="notification_list"),
]
