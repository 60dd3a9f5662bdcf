"""Web UI routes for kith.service (under /service/)."""

from django.urls import path

from kith.service import views

app_name = "service"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("cases/new/", views.case_new, name="case_new"),
    path("cases/<uuid:public_id>/", views.case_detail, name="case"),
    path("cases/<uuid:public_id>/edit/", views.case_edit, name="case_edit"),
    path("cases/<uuid:public_id>/messages/", views.case_message, name="case_message"),
    path("cases/<uuid:public_id>/status/", views.case_transition, name="case_transition"),
    path("cases/<uuid:public_id>/assign/", views.case_assign, name="case_assign"),
    path("cases/<uuid:public_id>/delete/", views.case_delete, name="case_delete"),
    path("attachments/<uuid:public_id>/", views.attachment_download, name="attachment"),
    path("upload/", views.upload_email, name="upload"),
    path("breaches/", views.breach_report, name="breaches"),
    path("csat/", views.csat_report, name="csat"),
    path("csat/<str:token>/", views.csat_public, name="csat_public"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/queues/new/", views.queue_form, name="queue_new"),
    path("settings/queues/<uuid:public_id>/", views.queue_form, name="queue_edit"),
    path("settings/calendars/new/", views.calendar_form, name="calendar_new"),
    path("settings/calendars/<uuid:public_id>/", views.calendar_form, name="calendar_edit"),
    path("settings/sla-policies/new/", views.sla_policy_form, name="sla_policy_new"),
    path("settings/sla-policies/<uuid:public_id>/", views.sla_policy_form, name="sla_policy_edit"),
]
