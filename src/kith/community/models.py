"""Community Q&A: spaces, topics, posts, votes, the reputation ledger, trust, badges, flags.

* A **Space** has an audience (public, customers, partners, members of a collab group,
  staff only). Its point values and privilege thresholds are data (``points``,
  ``privileges``), editable by admins, never constants in code.
* A **Topic** (question or discussion) owns **Posts**: the opening post (``question``
  kind, the topic's body), replies (``answer``) and comments on either (``comment``,
  with ``parent``). One table for all three keeps votes, flags, edit history and
  moderation uniform.
* **Vote** is unique per (post, voter). **ReputationEvent** is the ledger: every point
  ever given or taken is a row; an undo is a compensating row that names the row it
  reverses. ``MemberProfile.reputation`` is a cache derived from the ledger.
* **TrustLevelRule** rows say what activity over a rolling window earns a level and
  what each level may do (posts per day, links); ``MemberProfile.trust_level`` is
  recomputed by a periodic task, up *and* down.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import KithModel

TITLE_MAX = 200
BODY_MAX = 30_000

# Defaults a new space starts with; admins edit a space's own copy.
DEFAULT_POINTS: dict[str, int] = {
    "question_upvoted": 5,
    "question_downvoted": -2,
    "answer_upvoted": 10,
    "answer_downvoted": -2,
    "downvote_cast": -1,
    "answer_accepted": 15,
    "accepted_an_answer": 2,
    "post_flagged_removed": -100,
    # Points from votes a member may earn in one UTC day (reversals excepted).
    "daily_vote_cap": 200,
    # More votes than this from one voter on one author's posts within 24 hours is
    # serial voting: the points of all of them are reversed.
    "serial_vote_limit": 3,
    # Flags from trusted members (trust level >= flag_trust_level) that hide a post
    # until a moderator reviews it.
    "flags_to_hide": 3,
}
PRIVILEGES = (
    "vote_up",
    "vote_down",
    "comment_everywhere",
    "flag",
    "edit_others",
    "close",
    "moderate",
)
DEFAULT_PRIVILEGES: dict[str, dict[str, int]] = {
    "vote_up": {"reputation": 15, "trust_level": 1},
    "vote_down": {"reputation": 125, "trust_level": 1},
    "comment_everywhere": {"reputation": 50, "trust_level": 1},
    "flag": {"reputation": 15, "trust_level": 1},
    "edit_others": {"reputation": 2000, "trust_level": 3},
    "close": {"reputation": 3000, "trust_level": 3},
    "moderate": {"reputation": 10000, "trust_level": 4},
}


def default_points() -> dict[str, int]:
    return dict(DEFAULT_POINTS)


def default_privileges() -> dict[str, dict[str, int]]:
    return {k: dict(v) for k, v in DEFAULT_PRIVILEGES.items()}


class Space(KithModel):
    class Audience(models.TextChoices):
        PUBLIC = "public", "Public"
        CUSTOMERS = "customers", "Customers"
        PARTNERS = "partners", "Partners"
        GROUP = "group", "Members of a group"
        STAFF = "staff", "Staff only"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.PUBLIC)
    group = models.ForeignKey(
        "collab.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    points = models.JSONField(default=default_points)
    privileges = models.JSONField(default=default_privileges)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(audience="group") | Q(group__isnull=False),
                name="community_group_space_has_group",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def point(self, action: str) -> int:
        return int({**DEFAULT_POINTS, **(self.points or {})}.get(action, 0))

    def privilege(self, name: str) -> dict[str, int]:
        return {**DEFAULT_PRIVILEGES[name], **((self.privileges or {}).get(name) or {})}


class Tag(models.Model):
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Topic(KithModel):
    class Kind(models.TextChoices):
        QUESTION = "question", "Question"
        DISCUSSION = "discussion", "Discussion"

    space = models.ForeignKey(Space, on_delete=models.PROTECT, related_name="topics")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.QUESTION)
    title = models.CharField(max_length=TITLE_MAX)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="topics")
    accepted_answer = models.ForeignKey(
        "Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Answered: an accepted or an official answer exists (what deflection wants).
    answered = models.BooleanField(default=False)
    score = models.IntegerField(default=0)
    reply_count = models.PositiveIntegerField(default=0)
    view_count = models.PositiveIntegerField(default=0)
    last_activity_at = models.DateTimeField()
    locked_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)  # pending review
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Tokens for the search index (kith.community.search); FTS5 / tsvector read this.
    search_text = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["space", "-last_activity_at", "-id"], name="community_topic_list"),
            models.Index(fields=["author", "-created_at"], name="community_topic_author"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_visible(self) -> bool:
        return self.deleted_at is None and self.merged_into_id is None


class Post(KithModel):
    class Kind(models.TextChoices):
        QUESTION = "question", "Question"  # the opening post of a topic
        ANSWER = "answer", "Answer / reply"
        COMMENT = "comment", "Comment"

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="posts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    body_html = models.TextField()  # sanitised once, at write time
    is_official = models.BooleanField(default=False)  # an answer by staff
    score = models.IntegerField(default=0)
    edited_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)  # flagged, pending review
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["topic", "kind", "created_at", "id"], name="community_post_topic"),
            models.Index(fields=["author", "-created_at"], name="community_post_author"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} in {self.topic_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class PostRevision(models.Model):
    """The text of a post (and title of its topic) before an edit: the edit history."""

    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"revision of post {self.post_id}"


class Vote(models.Model):
    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The post's author when the vote was cast: serial-vote detection reads
    # (voter, author, created_at) without a join.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    value = models.SmallIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "voter"], name="uniq_community_vote"),
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="community_vote_value"),
        ]
        indexes = [
            models.Index(fields=["voter", "author", "created_at"], name="community_vote_serial")
        ]

    def __str__(self) -> str:
        return f"{self.value:+d} on post {self.post_id} by {self.voter_id}"


class ReputationEvent(models.Model):
    """One entry of the reputation ledger: points given to (or taken from) ``user``.

    Append-only. Undoing something writes a row with the opposite points whose
    ``reverses`` names the original; ``reversed`` on the original only marks it so it
    is not reversed twice.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    space = models.ForeignKey(Space, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=40)
    points = models.IntegerField()
    # Points that came from votes count against the daily cap.
    from_vote = models.BooleanField(default=False)
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    vote = models.ForeignKey(
        Vote, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reversal"
    )
    reversed = models.BooleanField(default=False)
    reason = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="community_rep_user"),
            models.Index(fields=["vote"], name="community_rep_vote"),
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} {self.action} to {self.user_id}"


class TrustLevelRule(models.Model):
    """What earns a trust level (activity in the last ``window_days``) and what it allows."""

    level = models.PositiveSmallIntegerField(unique=True)
    name = models.CharField(max_length=40)
    window_days = models.PositiveIntegerField(default=100)
    min_days_visited = models.PositiveIntegerField(default=0)
    min_posts_read = models.PositiveIntegerField(default=0)
    min_replies = models.PositiveIntegerField(default=0)
    min_likes_given = models.PositiveIntegerField(default=0)
    min_likes_received = models.PositiveIntegerField(default=0)
    max_flags_against = models.PositiveIntegerField(default=1000)
    posts_per_day = models.PositiveIntegerField(default=1000)
    links_allowed = models.BooleanField(default=True)

    class Meta:
        ordering = ["level"]

    def __str__(self) -> str:
        return f"{self.level} {self.name}"


class MemberProfile(models.Model):
    """A member's cached standing: reputation (derived from the ledger) and trust level."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_profile"
    )
    reputation = models.IntegerField(default=0)
    trust_level = models.PositiveSmallIntegerField(default=0)
    trust_computed_at = models.DateTimeField(null=True, blank=True)
    # A moderator may pin a level; the periodic task then leaves it alone.
    trust_locked = models.BooleanField(default=False)
    last_seen_on = models.DateField(null=True, blank=True)
    # Points earned from votes on ``vote_points_on`` (a UTC day), for the daily cap: a
    # vote holds this row's lock, so it reads and moves the pair without summing the
    # ledger. Null until the first vote point (then summed from the ledger once).
    vote_points_on = models.DateField(null=True, blank=True)
    vote_points = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.reputation} rep, TL{self.trust_level}"


class SpaceReputation(models.Model):
    """A member's reputation in one space: the ledger's rows of that space, summed.

    A cache like ``MemberProfile.reputation`` (the global total), moved in the same
    statement batch as each ledger row, so a space can show its own standing and
    leaders without summing the ledger.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    reputation = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "space"], name="uniq_community_space_rep")
        ]
        indexes = [
            models.Index(fields=["space", "-reputation", "user"], name="community_space_rep_top")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.reputation} rep in space {self.space_id}"


class Visit(models.Model):
    """A member was in the community on this day (for "days visited")."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="uniq_community_visit")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.day}"


class PostRead(models.Model):
    """A member read a post (for "posts read", and the timeline's views of answers)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="uniq_community_read")]
        indexes = [models.Index(fields=["user", "created_at"], name="community_read_user")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.post_id}"


class Badge(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300)

    def __str__(self) -> str:
        return self.name


class BadgeAward(models.Model):
    id = models.BigAutoField(primary_key=True)
    badge = models.ForeignKey(Badge, on_delete=models.CASCADE, related_name="awards")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    awarded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["badge", "user"], name="uniq_community_badge")
        ]

    def __str__(self) -> str:
        return f"{self.badge_id} to {self.user_id}"


class Flag(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", "Spam"
        OFFENSIVE = "offensive", "Rude or abusive"
        OFF_TOPIC = "off_topic", "Off topic"
        OTHER = "other", "Something else"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        REMOVED = "removed", "Post removed"
        DISMISSED = "dismissed", "Dismissed"

    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="flags")
    # Null for flags the system raises itself (spam heuristics).
    flagger = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["post", "flagger"],
                condition=Q(flagger__isnull=False),
                name="uniq_community_flag",
            )
        ]
        indexes = [models.Index(fields=["outcome", "created_at"], name="community_flag_queue")]

    def __str__(self) -> str:
        return f"{self.reason} flag on {self.post_id}"
