"""``kith check``: the command's front door, its checks, and the worker's daily run."""

from __future__ import annotations

import logging

import pytest

from kith import cli
from kith.collab import services as collab_services
from kith.collab.models import Post
from kith.core import consistency, worker
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def test_kith_check_lists_every_app_check(capsys):
    cli.main(["check", "--list"])
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert {
        "sales.forecast_cells",
        "sales.stage_history",
        "service.sla_clocks",
        "collab.comment_counts",
    } <= listed


def test_kith_check_on_clean_data_exits_zero(capsys):
    cli.main(["check"])
    assert "No drift." in capsys.readouterr().out


def test_an_unknown_check_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", "--only", "nope"])
    assert exc.value.code == 2
    assert "unknown check: nope" in capsys.readouterr().err


def test_the_worker_runs_it_daily_and_logs_drift(alice, caplog):
    job = worker.periodic_jobs()["core.consistency"]
    assert job.every_seconds == 24 * 3600
    ana = make_person(alice, given="Ana", family="Lima")
    post = collab_services.create_post(actor=alice, target=ana, body="Hello")
    Post.objects.filter(pk=post.pk).update(comment_count=4)
    with caplog.at_level(logging.WARNING, logger="kith.consistency"):
        job.func()
    assert "collab.comment_counts: 1 drift(s)" in caplog.text
    assert "kith check --fix" in caplog.text
    # The daily run reports; it does not repair behind a person's back.
    assert Post.objects.get(pk=post.pk).comment_count == 4
    assert not consistency.run(only=["collab.comment_counts"]).clean
