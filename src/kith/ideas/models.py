"""Ideas: co-creation with customers.

* A **Category** groups ideas (optionally about one sales ``Product``) and carries the
  optional vote budget: at most ``vote_budget`` open votes per person in the category
  (data, editable by admins; ``None`` means no limit).
* An **Idea** moves through ``new → under review → planned → in progress → shipped``
  (or ``declined``) by ``kith.ideas.services.change_status`` only, which checks the
  transition under a row lock and records an **IdeaStatusChange** with its public note.
* **IdeaVote** is unique per (idea, voter): one vote per person, the database is the
  backstop for concurrent clicks. ``Idea.vote_count`` is a cache recomputed from the
  votes under the idea's lock.
* **IdeaContributor** credits the co-creators besides the author; **IdeaLink** ties an
  idea to the deals and cases that ask for it (staff only); **IdeaFollow** is who hears
  about status changes besides the voters.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import KithModel

TITLE_MAX = 200
BODY_MAX = 20_000
NOTE_MAX = 5_000
COMMENT_MAX = 5_000


class Status(models.TextChoices):
    NEW = "new", "New"
    UNDER_REVIEW = "under_review", "Under review"
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    SHIPPED = "shipped", "Shipped"
    DECLINED = "declined", "Declined"


# The workflow: which status may follow which. Declined ideas may be reopened for review;
# shipped is final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.NEW: (Status.UNDER_REVIEW, Status.PLANNED, Status.DECLINED),
    Status.UNDER_REVIEW: (Status.NEW, Status.PLANNED, Status.DECLINED),
    Status.PLANNED: (Status.UNDER_REVIEW, Status.IN_PROGRESS, Status.DECLINED),
    Status.IN_PROGRESS: (Status.PLANNED, Status.SHIPPED, Status.DECLINED),
    Status.SHIPPED: (),
    Status.DECLINED: (Status.UNDER_REVIEW,),
}
# Statuses in which an idea takes votes (and in which a vote uses a person's budget).
OPEN_STATUSES = (Status.NEW, Status.UNDER_REVIEW, Status.PLANNED, Status.IN_PROGRESS)


class Category(KithModel):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Open votes a person may hold in this category; None: as many as they like.
    vote_budget = models.PositiveIntegerField(null=True, blank=True)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Idea(KithModel):
    title = models.CharField(max_length=TITLE_MAX)
    body = models.TextField()
    body_html = models.TextField()
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="ideas")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    status_note = models.TextField(blank=True)
    status_note_html = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    vote_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_ideas"
    )
    merged_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)  # the "edited" marker

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-vote_count", "-id"], name="ideas_status_votes"),
            models.Index(fields=["-vote_count", "-id"], name="ideas_votes"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="ideas_not_merged_into_self"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.merged_into_id is None and self.status in OPEN_STATUSES


class IdeaVote(models.Model):
    id = models.BigAutoField(primary_key=True)
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idea_votes"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["idea", "voter"], name="ideas_one_vote_per_person")
        ]
        indexes = [models.Index(fields=["voter", "-created_at"], name="ideas_votes_by_voter")]

    def __str__(self) -> str:
        return f"vote {self.voter_id} on {self.idea_id}"


class IdeaComment(KithModel):
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    body_html = models.TextField()
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment on {self.idea_id}"


class IdeaRevision(models.Model):
    """The text of an idea (title and body) or of a comment before an edit: the edit
    history. Exactly one of ``idea`` / ``comment`` is set."""

    id = models.BigAutoField(primary_key=True)
    idea = models.ForeignKey(
        Idea, null=True, blank=True, on_delete=models.CASCADE, related_name="revisions"
    )
    comment = models.ForeignKey(
        IdeaComment, null=True, blank=True, on_delete=models.CASCADE, related_name="revisions"
    )
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(idea__isnull=False, comment__isnull=True)
                | Q(idea__isnull=True, comment__isnull=False),
                name="ideas_revision_of_one",
            )
        ]

    def __str__(self) -> str:
        return f"revision of {'idea ' + str(self.idea_id) if self.idea_id else 'comment ' + str(self.comment_id)}"


class IdeaStatusChange(KithModel):
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=Status.choices)
    to_status = models.CharField(max_length=12, choices=Status.choices)
    note = models.TextField(blank=True)
    note_html = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.idea_id}: {self.from_status} → {self.to_status}"


class IdeaContributor(KithModel):
    """A co-creator credited on the idea besides its author."""

    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="contributors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    contribution = models.CharField(max_length=200, blank=True)
    credited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["idea", "user"], name="ideas_one_credit_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.idea_id}"


class IdeaLink(KithModel):
    """A deal or a case that asks for the idea (staff only)."""

    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="links")
    deal = models.ForeignKey("sales.Deal", null=True, blank=True, on_delete=models.CASCADE)
    case = models.ForeignKey("service.Case", null=True, blank=True, on_delete=models.CASCADE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(deal__isnull=False, case__isnull=True)
                | Q(deal__isnull=True, case__isnull=False),
                name="ideas_link_one_record",
            ),
            models.UniqueConstraint(
                fields=["idea", "deal"], condition=Q(deal__isnull=False), name="ideas_link_deal"
            ),
            models.UniqueConstraint(
                fields=["idea", "case"], condition=Q(case__isnull=False), name="ideas_link_case"
            ),
        ]

    def __str__(self) -> str:
        return f"link {self.idea_id}"


class IdeaFollow(models.Model):
    id = models.BigAutoField(primary_key=True)
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["idea", "user"], name="ideas_one_follow_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.idea_id}"
