"""Web UI routes for kith.cmr (the JWKS lives at the site root, see ``kith.urls``)."""

from django.urls import path

from . import views, views_partner

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
    path(
        "people/<uuid:public_id>/erasure/<uuid:request_id>/refuse/",
        views.staff_refuse_erasure,
        name="staff_refuse_erasure",
    ),
    path("my/terms/", views.my_terms, name="my_terms"),
    path("my/terms/<uuid:agreement_id>/counter/", views.my_terms_counter, name="my_terms_counter"),
    path("my/terms/<uuid:agreement_id>.jwt", views.my_agreement, name="my_agreement"),
    path("my/intents/", views.my_intents, name="my_intents"),
    path(
        "my/intents/<uuid:intent_id>/withdraw/", views.my_intent_withdraw, name="my_intent_withdraw"
    ),
    path("my/offers/<uuid:offer_id>/", views.my_offer, name="my_offer"),
    path("intents/", views.intent_queue, name="intents"),
    path(
        "people/<uuid:public_id>/intents/<uuid:intent_id>/offers/",
        views.staff_offer,
        name="staff_offer",
    ),
    # Partners (portal users with the partner role): intents shared with partners.
    path("partner/intents/", views_partner.partner_intents, name="partner_intents"),
    path(
        "partner/intents/<uuid:intent_id>/offers/",
        views_partner.partner_offer,
        name="partner_offer",
    ),
    path("purposes/", views.purposes_admin, name="purposes"),
    path("purposes/<uuid:purpose_id>/", views.purpose_edit, name="purpose_edit"),
]
