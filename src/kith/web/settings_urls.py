"""Routes of the administrator settings pages (``/settings/``)."""

from django.urls import path

from kith.web import settings_views as views

app_name = "settings"

urlpatterns = [
    path("", views.home, name="home"),
    path("welcome/", views.welcome, name="welcome"),
    path("welcome/dismiss/", views.welcome_dismiss, name="welcome_dismiss"),
    path("company/", views.company, name="company"),
    path("users/", views.users, name="users"),
    path("users/invite/", views.user_invite, name="user_invite"),
    path("users/<uuid:public_id>/role/", views.user_role, name="user_role"),
    path("users/<uuid:public_id>/active/", views.user_active, name="user_active"),
    path("users/<uuid:public_id>/reinvite/", views.user_reinvite, name="user_reinvite"),
    path("invitations/<str:token>/", views.accept, name="accept"),
    path("teams/", views.teams, name="teams"),
    path("teams/<uuid:public_id>/", views.team, name="team"),
    path("roles/", views.roles, name="roles"),
    path("roles/<uuid:public_id>/", views.role, name="role"),
    path("fields/", views.fields, name="fields"),
    path("fields/<uuid:public_id>/", views.field, name="field"),
    path("email-templates/", views.email_templates, name="email_templates"),
    path("email-templates/<uuid:public_id>/", views.email_template, name="email_template"),
]
