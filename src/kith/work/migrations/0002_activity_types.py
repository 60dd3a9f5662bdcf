"""Seed the built-in activity types. Types are data: managers and admins add their own."""

import uuid

from django.db import migrations

TYPES = [
    # slug, name, icon, timeline channel, direction, position
    ("call", "Call", "call", "call", "out", 10),
    ("meeting", "Meeting", "meeting", "meeting", "out", 20),
    ("email", "E-mail", "email", "email", "out", 30),
    ("todo", "To-do", "check", "system", "internal", 40),
]


def seed(apps, schema_editor):
    ActivityType = apps.get_model("work", "ActivityType")
    for slug, name, icon, channel, direction, position in TYPES:
        ActivityType.objects.get_or_create(
            slug=slug,
            defaults={
                "public_id": uuid.uuid4(),
                "name": name,
                "icon": icon,
                "channel": channel,
                "direction": direction,
                "position": position,
                "builtin": True,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("work", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
