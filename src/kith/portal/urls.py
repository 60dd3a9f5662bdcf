"""Web UI routes for kith.portal (mounted under /portal/)."""

from django.urls import path

from kith.portal import staff, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("signup/", views.signup, name="signup"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path(
        "password-reset/<str:uidb64>/<str:token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("profile/", views.profile, name="profile"),
    path("profile/email/", views.change_email, name="change_email"),
    path("profile/email/<str:token>/", views.confirm_email, name="confirm_email"),
    path("cases/", views.cases, name="cases"),
    path("cases/new/", views.new_case, name="new_case"),
    path(
        "cases/suggested/<uuid:public_id>/solved/",
        views.deflection_solved,
        name="deflection_solved",
    ),
    path(
        "cases/suggested/<uuid:public_id>/<str:topic>/",
        views.deflection_view,
        name="deflection_view",
    ),
    path("cases/files/<uuid:public_id>/", views.case_attachment, name="case_attachment"),
    path("cases/<uuid:public_id>/", views.case_detail, name="case"),
    path("cases/<uuid:public_id>/thread/", views.case_thread, name="case_thread"),
    path("cases/<uuid:public_id>/reply/", views.case_reply, name="case_reply"),
    path("cases/<uuid:public_id>/close/", views.case_close, name="case_close"),
    path("cases/<uuid:public_id>/rate/", views.case_rate, name="case_rate"),
    path("groups/", views.groups, name="groups"),
    path("groups/<uuid:public_id>/", views.group, name="group"),
    path("groups/<uuid:public_id>/post/", views.group_post, name="group_post"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/list/", views.notifications_list, name="notifications_list"),
    # Staff only (a switch on the organisation's page).
    path(
        "staff/organizations/<uuid:public_id>/case-sharing/",
        staff.set_case_sharing,
        name="staff_case_sharing",
    ),
]

# Research surveys the customer was invited to (kith.insights.panels).
from kith.portal import views_surveys  # noqa: E402

urlpatterns += [
    path("surveys/", views_surveys.surveys, name="surveys"),
    path("surveys/<uuid:public_id>/", views_surveys.survey, name="survey"),
]

# Referral codes and links (kith.insights.referrals); the link needs no login.
from kith.portal import views_referrals  # noqa: E402

urlpatterns += [
    path("referrals/", views_referrals.my_referrals, name="referrals"),
    path("r/<str:code>/", views_referrals.referral_link, name="referral_link"),
]
