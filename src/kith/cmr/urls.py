"""Web UI routes for kith.cmr (the JWKS lives at the site root, see ``kith.urls``)."""

from django.urls import path

from . import views

app_name = "cmr"

urlpatterns = [
    path("my/", views.my_data, name="my_data"),
    path("my/consents/", views.my_consent, name="my_consent"),
    path("my/receipts/<str:receipt_id>.jwt", views.my_receipt, name="my_receipt"),
    path("my/export.json", views.my_export, name="my_export"),
    path("my/card.vcf", views.my_vcard, name="my_vcard"),
    path("my/preferences/", views.my_preferences, name="my_preferences"),
    path("people/<uuid:public_id>/consents/", views.staff_consent, name="staff_consent"),
    path("my/corrections/", views.my_correction, name="my_correction"),
    path("my/erasure/", views.my_erasure, name="my_erasure"),
    path(
        "people/<uuid:public_id>/corrections/<uuid:request_id>/",
        views.staff_correction,
        name="staff_correction",
    ),
    path("people/<uuid:public_id>/erasure/", views.staff_erase, name="staff_erase"),
]
