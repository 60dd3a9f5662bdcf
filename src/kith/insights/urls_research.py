"""Web routes for participation and research panels (added to the insights namespace)."""

from django.urls import path

from kith.insights import views_research as v

urlpatterns: list = [
    path("participation/", v.participation_page, name="participation"),
    path("participation/<slug:part>.csv", v.participation_csv, name="participation_csv"),
    path("panels/", v.panels_page, name="panels"),
    path("panels/new/", v.panel_build, name="panel_build"),
    path("panels/<uuid:public_id>/", v.panel_page, name="panel"),
    path("panels/<uuid:public_id>/surveys/", v.survey_create, name="survey_create"),
    path("surveys/<uuid:public_id>/", v.survey_page, name="survey"),
    path("surveys/<uuid:public_id>/invite/", v.survey_invite, name="survey_invite"),
    path("surveys/<uuid:public_id>/close/", v.survey_close, name="survey_close"),
]
