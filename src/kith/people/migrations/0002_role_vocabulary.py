"""Seed the role vocabulary. Roles are data: admins add their own."""

import uuid

from django.db import migrations

ROLES = [
    ("customer", "Customer", "has customer", "any", "Buys from the object (or from us)."),
    ("prospect", "Prospect", "has prospect", "any", "Might buy; not yet a customer."),
    ("lead", "Lead", "has lead", "person", "Unqualified interest."),
    ("employee", "Employee", "employs", "person", "Works for the object organisation."),
    ("contractor", "Contractor", "contracts", "person", "Works for the object under contract."),
    ("partner", "Partner", "has partner", "any", "Sells with or for the object."),
    ("reseller", "Reseller", "has reseller", "organization", "Resells the object's products."),
    ("supplier", "Supplier", "has supplier", "any", "Supplies the object."),
    ("investor", "Investor", "has investor", "any", "Holds a stake in the object."),
    ("advocate", "Advocate", "has advocate", "person", "Recommends us or the object to others."),
    ("influencer", "Influencer", "has influencer", "person", "Shapes opinion in a community."),
    ("community-member", "Community member", "has community member", "person", "Takes part in a community."),
    ("board-member", "Board member", "has board member", "person", "Sits on the object's board."),
    ("subsidiary", "Subsidiary", "has subsidiary", "organization", "Owned by the object organisation."),
    ("competitor", "Competitor", "competes with", "organization", "Competes with the object."),
    ("former-customer", "Former customer", "had customer", "any", "Used to buy from the object."),
]


def seed(apps, schema_editor):
    RoleType = apps.get_model("people", "RoleType")
    for slug, name, object_label, applies_to, description in ROLES:
        RoleType.objects.get_or_create(
            slug=slug,
            defaults={
                "public_id": uuid.uuid4(),
                "name": name,
                "object_label": object_label,
                "applies_to": applies_to,
                "description": description,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
