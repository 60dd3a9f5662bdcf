"""Sales fixtures: the seeded default pipeline, a product, and a deal factory."""

from __future__ import annotations

import pytest

from kith.sales import services
from kith.sales.models import Pipeline, Stage
from tests.conftest import make_org, make_person


@pytest.fixture
def pipeline(db) -> Pipeline:
    """The default pipeline the data migration seeds (Lead … Won, Lost)."""
    return Pipeline.objects.get(is_default=True)


@pytest.fixture
def stages(pipeline) -> dict[str, Stage]:
    return {s.name: s for s in pipeline.stages.all()}


@pytest.fixture
def acme(alice):
    return make_org(alice, "Acme Ltd")


@pytest.fixture
def ana(alice):
    return make_person(alice, given="Ana", family="Lima", email="ana@example.com")


@pytest.fixture
def make_deal(alice, acme):
    def make(actor=None, *, title="Acme renewal", stage=None, **data):
        data.setdefault("organization", acme)
        return services.create_deal(
            actor=actor or alice, data={"title": title, **data}, stage=stage
        )

    return make
