"""Background delivery of e-mails written in Kith."""

from __future__ import annotations

from django_tasks import task

from kith.mail import services


@task()
def deliver_email(outgoing_pk: int) -> bool:
    """Send one queued e-mail (retried by the worker when SMTP fails)."""
    return services.deliver(outgoing_pk)
