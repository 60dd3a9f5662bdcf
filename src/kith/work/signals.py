"""Keep activities and meetings with the survivor when two parties are merged."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from kith.work.models import Activity, MeetingAttendee


def move_work_on_merge(sender, *, keep, absorb, **kwargs) -> None:
    """Runs inside the merge's transaction: re-point everything about ``absorb`` at ``keep``."""
    Activity.objects.filter(party_id=absorb.pk).update(party_id=keep.pk)
    party_type = ContentType.objects.get_for_model(type(keep))
    Activity.objects.filter(record_type=party_type, record_id=absorb.pk).update(record_id=keep.pk)
    # A meeting both attended keeps one row (the survivor's); the others move over.
    both = MeetingAttendee.objects.filter(party_id=keep.pk).values("meeting_id")
    MeetingAttendee.objects.filter(party_id=absorb.pk, meeting_id__in=both).delete()
    MeetingAttendee.objects.filter(party_id=absorb.pk).update(party_id=keep.pk)
