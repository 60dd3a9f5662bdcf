"""Web UI routes for people, organisations and imports.

Record pages use the public UUID. Actions shared by people and organisations
(contact points, roles, timeline) live under ``parties/<uuid>/``.
"""

from django.urls import path

from kith.people import inline_edit, views

app_name = "people"

urlpatterns = [
    # People
    path("people/", views.people_list, name="list"),
    path("people/bulk/", views.bulk, name="bulk"),
    path("merges/<uuid:public_id>/undo/", views.merge_undo, name="merge_undo"),
    path("people/new/", views.person_new, name="person_new"),
    path("people/views/", views.save_view, name="save_view"),
    path("people/columns/", views.choose_columns, name="columns"),
    path("people/<uuid:public_id>/", views.person_detail, name="person"),
    path("people/<uuid:public_id>/edit/", views.person_edit, name="person_edit"),
    path(
        "parties/<uuid:public_id>/inline/<str:field>/",
        inline_edit.inline_edit,
        name="inline_edit",
    ),
    path("parties/<uuid:public_id>/delete/", views.party_delete, name="party_delete"),
    path(
        "people/<uuid:public_id>/merge/<uuid:other_id>/",
        views.person_merge,
        name="person_merge",
    ),
    # Organisations
    path("organizations/", views.organization_list, name="organizations"),
    path("organizations/new/", views.organization_new, name="organization_new"),
    path("organizations/options/", views.organization_options, name="organization_options"),
    path("organizations/<uuid:public_id>/", views.organization_detail, name="organization"),
    path(
        "organizations/<uuid:public_id>/edit/",
        views.organization_edit,
        name="organization_edit",
    ),
    path(
        "organizations/<uuid:public_id>/merge/<uuid:other_id>/",
        views.organization_merge,
        name="organization_merge",
    ),
    # Import
    path("import/", views.import_start, name="import"),
    path("import/<uuid:public_id>/", views.import_job, name="import_job"),
    path("import/<uuid:public_id>/progress/", views.import_progress, name="import_progress"),
    path("import/<uuid:public_id>/again/", views.import_again, name="import_again"),
    # Either kind
    path("parties/check/", views.check_new_party, name="check"),
    path("parties/pick/", views.party_pick, name="pick"),
    path("parties/pick/new/", views.party_pick_new, name="pick_new"),
    path("parties/<uuid:public_id>/timeline/", views.timeline_fragment, name="timeline"),
    path("parties/<uuid:public_id>/interactions/", views.interaction_add, name="interaction_add"),
    path("parties/<uuid:public_id>/contacts/", views.contact_add, name="contact_add"),
    path(
        "parties/<uuid:public_id>/contacts/<uuid:point_id>/primary/",
        views.contact_primary,
        name="contact_primary",
    ),
    path(
        "parties/<uuid:public_id>/contacts/<uuid:point_id>/remove/",
        views.contact_remove,
        name="contact_remove",
    ),
    path(
        "parties/<uuid:public_id>/not-duplicate/<uuid:other_id>/",
        views.not_duplicate,
        name="not_duplicate",
    ),
    path("parties/<uuid:public_id>/roles/", views.role_add, name="role_add"),
    path("parties/<uuid:public_id>/roles/<uuid:rel_id>/end/", views.role_end, name="role_end"),
]
