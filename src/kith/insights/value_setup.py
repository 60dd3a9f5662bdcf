"""Wiring of customer value into the rest of Kith, called from ``InsightsConfig.ready``.

The person-page panel (CLV, CRV, segment, referrals, community reputation), the idea
ranking by the voters' customer value, the nightly recomputation, and the personal-data
registries of ``kith.cmr`` (export and erasure) for the value models.
"""

from __future__ import annotations

import contextlib


def setup() -> None:
    from kith.cmr import erasure, registry
    from kith.core import worker
    from kith.ideas import ranking
    from kith.insights import queries_value
    from kith.web import panels

    panels.register(
        "party", "insights.value", "kith.insights.views_value.party_panel", column="side", order=72
    )
    ranking.register(
        "clv", queries_value.idea_voter_value, label="Voters' customer value", staff_only=True
    )
    worker.periodic("insights.value", every_seconds=24 * 3600)(_nightly_value)
    worker.periodic("insights.referrals.purge", every_seconds=24 * 3600)(_purge_pending)

    registry.register_export("insights.PersonValue", "party")
    registry.register_export("insights.Referral", "referrer", "referred")
    registry.register_excluded(
        "insights.ValueRun", "A staff-requested batch run; the person's figures are exported."
    )
    erasure.register_erasure("insights.PersonValue", "party", delete=True)
    erasure.register_erasure("insights.Referral", "referrer", "referred", delete=True)
    erasure.register_kept("insights.ValueRun", "A batch run; its figures are deleted per person.")
    registry.register_export("insights.ReferralCode", "party")
    registry.register_excluded(
        "insights.PendingReferral",
        "A hash of someone else's sign-up address, deleted when claimed or after a week.",
    )
    erasure.register_erasure("insights.ReferralCode", "party", delete=True)
    erasure.register_erasure("insights.PendingReferral", "code__party", delete=True)


def _nightly_value() -> None:
    from kith.core.errors import Conflict
    from kith.insights import value

    with contextlib.suppress(Conflict):  # one is already queued or running
        value.request_value_run(actor=None)


def _purge_pending() -> None:
    from kith.insights import referrals

    referrals.purge_stale_pending()
