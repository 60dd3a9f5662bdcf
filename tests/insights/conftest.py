"""Insights fixtures: profiling allowed by default unless a test says otherwise.

The seeded "profiling" purpose asks for explicit consent (not granted by default); most
tests here are about the graph, so they run as a deployment that profiles on
legitimate interest would. ``test_consent.py`` covers the explicit-consent case.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def profiling_by_default(db):
    from kith.cmr.models import Purpose

    Purpose.objects.filter(key="profiling").update(default_granted=True)
