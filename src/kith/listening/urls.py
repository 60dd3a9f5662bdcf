"""Web UI routes for kith.listening (mounted under /listening/)."""

from django.urls import path

from kith.listening import views

app_name = "listening"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("queue/rows/", views.queue_rows, name="queue_rows"),
    path("queue/bulk/", views.bulk, name="bulk"),
    path("stream/", views.stream, name="stream"),
    path("mentions/<uuid:public_id>/", views.mention_actions, name="mention_actions"),
    path("mentions/<uuid:public_id>/assign/", views.assign, name="assign"),
    path("mentions/<uuid:public_id>/reply/", views.reply, name="reply"),
    path("mentions/<uuid:public_id>/convert/", views.convert, name="convert"),
    path("mentions/<uuid:public_id>/dismiss/", views.dismiss, name="dismiss"),
    path("mentions/<uuid:public_id>/spam/", views.spam, name="spam"),
    path("sources/", views.sources, name="sources"),
    path("sources/new/", views.source_new, name="source_new"),
    path("sources/<uuid:public_id>/", views.source_edit, name="source_edit"),
    path("sources/<uuid:public_id>/pause/", views.source_pause, name="source_pause"),
    path("sources/<uuid:public_id>/upload/", views.source_upload, name="source_upload"),
    path("keywords/", views.keywords, name="keywords"),
    path("keywords/<uuid:public_id>/", views.keyword_edit, name="keyword_edit"),
    path("keywords/<uuid:public_id>/delete/", views.keyword_delete, name="keyword_delete"),
    path("dashboards/", views.dashboard, name="dashboards"),
    path("dashboards/<slug:name>.csv", views.dashboard_csv, name="dashboard_csv"),
]
