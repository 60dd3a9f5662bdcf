"""Web UI routes for kith.sales (mounted under /sales/)."""

from django.urls import path

from kith.sales import views

app_name = "sales"

urlpatterns = [
    path("", views.board, name="board"),
    path("deals/", views.deal_list, name="deals"),
    path("deals/new/", views.deal_new, name="deal_new"),
    path("deals/<uuid:public_id>/", views.deal_detail, name="deal"),
    path("deals/<uuid:public_id>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<uuid:public_id>/delete/", views.deal_delete, name="deal_delete"),
    path("deals/<uuid:public_id>/move/", views.deal_move, name="deal_move"),
    path("deals/<uuid:public_id>/lines/", views.line_add, name="line_add"),
    path(
        "deals/<uuid:public_id>/lines/<uuid:line_id>/remove/",
        views.line_remove,
        name="line_remove",
    ),
    path("deals/<uuid:public_id>/people/", views.contact_add, name="contact_add"),
    path(
        "deals/<uuid:public_id>/people/<uuid:contact_id>/remove/",
        views.contact_remove,
        name="contact_remove",
    ),
    path("forecast/", views.forecast, name="forecast"),
    path("conversion/", views.conversion, name="conversion"),
    path("products/", views.products, name="products"),
    path("pipelines/", views.pipelines, name="pipelines"),
    path("pipelines/<uuid:public_id>/", views.pipeline_edit, name="pipeline_edit"),
    path("pipelines/<uuid:public_id>/delete/", views.pipeline_delete, name="pipeline_delete"),
    path("pipelines/<uuid:public_id>/stages/", views.stage_add, name="stage_add"),
    path("stages/<uuid:public_id>/", views.stage_edit, name="stage_edit"),
    path("stages/<uuid:public_id>/move/", views.stage_move, name="stage_move"),
    path("stages/<uuid:public_id>/delete/", views.stage_delete, name="stage_delete"),
]
