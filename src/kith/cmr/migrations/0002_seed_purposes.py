"""The five purposes of issue 11, as data (admins may edit texts or add purposes)."""

from django.db import migrations

PURPOSES = [
    {
        "key": "service_messages",
        "name": "Service messages",
        "text": "We e-mail you about your requests and cases, ask how we did after we help "
        "you, and send the notifications you follow.",
        "category": "Core Function",
        "consent_type": "IMPLICIT",
        "pii_categories": ["Contact information"],
        "primary_purpose": True,
        "default_granted": True,
        "termination": "Until you withdraw it or close your account.",
        "order": 10,
    },
    {
        "key": "marketing_email",
        "name": "Marketing e-mail",
        "text": "We may e-mail you news, offers and invitations about our products.",
        "category": "Marketing",
        "consent_type": "EXPLICIT",
        "pii_categories": ["Contact information", "Preferences"],
        "termination": "Until you withdraw it.",
        "order": 20,
    },
    {
        "key": "profiling",
        "name": "Profiling and analytics",
        "text": "We may analyse how you use our products and services to personalise what "
        "we offer you.",
        "category": "Personalisation",
        "consent_type": "EXPLICIT",
        "pii_categories": ["Interaction history", "Transactions"],
        "termination": "Until you withdraw it.",
        "order": 30,
    },
    {
        "key": "research_panels",
        "name": "Research panels",
        "text": "We may invite you to surveys and research panels about our products.",
        "category": "Research",
        "consent_type": "EXPLICIT",
        "pii_categories": ["Contact information", "Survey answers"],
        "termination": "Until you withdraw it.",
        "order": 40,
    },
    {
        "key": "partner_sharing",
        "name": "Sharing with partners",
        "text": "We may share your contact details with our partners so they can make you "
        "offers.",
        "category": "Third-party sharing",
        "consent_type": "EXPLICIT",
        "pii_categories": ["Contact information"],
        "third_party_disclosure": True,
        "third_party_name": "Partner organisations",
        "termination": "Until you withdraw it; partners delete the data within 30 days.",
        "order": 50,
    },
]


def seed(apps, schema_editor):
    Purpose = apps.get_model("cmr", "Purpose")
    for row in PURPOSES:
        Purpose.objects.update_or_create(key=row["key"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("cmr", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
