"""Routes of e-mail writing (``/mail/``); template settings live under ``/settings/``."""

from django.urls import path

from kith.mail import views

app_name = "mail"

urlpatterns = [
    path("people/<uuid:public_id>/compose/", views.compose, name="compose"),
]
