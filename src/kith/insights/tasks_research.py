"""Background work for research panels: e-mailing survey invitations."""

from __future__ import annotations

from django_tasks import task

from kith.insights import panels


@task()
def send_survey_invitation(invitation_pk: int) -> bool:
    """E-mail one invitation; consent and preferences are asked right before sending."""
    return panels.mail_invitation(invitation_pk)
