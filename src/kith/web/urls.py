"""Web UI routes: the shell (home, log in/out) and each app's pages."""

from django.urls import include, path

from kith.web import trash, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("system/", views.system_status, name="system_status"),
    path("search/", views.search, name="search"),
    path("trash/", trash.trash_list, name="trash"),
    path("trash/<uuid:public_id>/restore/", trash.trash_restore, name="trash_restore"),
    path("trash/<uuid:public_id>/purge/", trash.trash_purge, name="trash_purge"),
    path("settings/", include("kith.web.settings_urls")),
    path("", include("kith.people.urls")),
    path("sales/", include("kith.sales.urls")),
    path("service/", include("kith.service.urls")),
    path("mail/", include("kith.mail.urls")),
    path("work/", include("kith.work.urls")),
    path("collab/", include("kith.collab.urls")),
    path("community/", include("kith.community.urls")),
    path("ideas/", include("kith.ideas.urls")),
    path("portal/", include("kith.portal.urls")),
    path("cmr/", include("kith.cmr.urls")),
    path("listening/", include("kith.listening.urls")),
    path("insights/", include("kith.insights.urls")),
]
