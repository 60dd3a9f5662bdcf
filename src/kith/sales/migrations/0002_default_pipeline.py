"""Seed the default sales pipeline so a fresh install can record deals at once."""

import uuid

from django.db import migrations

DEFAULT_PIPELINE = "Sales"
DEFAULT_STAGES = (
    # name, probability, is_won, is_lost
    ("Lead", 10, False, False),
    ("Qualified", 25, False, False),
    ("Proposal", 50, False, False),
    ("Negotiation", 75, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
)


def seed(apps, schema_editor):
    Pipeline = apps.get_model("sales", "Pipeline")
    Stage = apps.get_model("sales", "Stage")
    if Pipeline.objects.exists():
        return
    pipeline = Pipeline.objects.create(
        public_id=uuid.uuid4(), name=DEFAULT_PIPELINE, is_default=True
    )
    for order, (name, probability, won, lost) in enumerate(DEFAULT_STAGES, start=1):
        Stage.objects.create(
            public_id=uuid.uuid4(),
            pipeline=pipeline,
            name=name,
            order=order,
            probability=probability,
            is_won=won,
            is_lost=lost,
        )


def unseed(apps, schema_editor):
    Pipeline = apps.get_model("sales", "Pipeline")
    Pipeline.objects.filter(name=DEFAULT_PIPELINE, is_default=True, deals__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
