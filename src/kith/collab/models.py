"""Collaboration: posts and comments on any record, follows, mentions, topics, groups, notifications.

Everything social points at its record through one generic reference (``target_type`` +
``target_id``), as Odoo's ``res_model/res_id`` does, so a feed works on people,
organisations, deals, cases, groups and any later model without this app importing it.

"My feed" is fan-out on write: each post writes one ``FeedItem`` per reader allowed to
see it (followers of the record, members of the group, people mentioned). Reading a
feed is then one index range scan on ``(user, post)``, whatever the number of records
followed or posts stored; the cost moves to posting, done in a task for big audiences.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from kith.core.models import KithModel


class Visibility(models.TextChoices):
    INTERNAL = "internal", "Internal (staff only)"
    GROUP = "group", "Group members"
    PUBLIC = "public", "Public (customers and partners who can see the record)"


class Group(KithModel):
    """A group of people working together; internal (staff only), partner or customer."""

    class Privacy(models.TextChoices):
        PUBLIC = "public", "Public"
        PRIVATE = "private", "Private"
        UNLISTED = "unlisted", "Unlisted"

    class Kind(models.TextChoices):
        INTERNAL = "internal", "Internal (staff only)"
        PARTNER = "partner", "Partners"
        CUSTOMER = "customer", "Customers"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    privacy = models.CharField(max_length=10, choices=Privacy.choices, default=Privacy.PUBLIC)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INTERNAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(KithModel):
    """A user's place in a group: invited, active or declined; owner, admin or member.

    Members are logins (``User``); a portal user is their Person, so a customer who is
    also a partner is one member whatever their roles, and a merge that moves the login
    to the surviving Person keeps the membership with it.
    """

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ACTIVE = "active", "Active"
        DECLINED = "declined", "Declined"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collab_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="uniq_collab_membership")
        ]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.group} ({self.status})"


class Topic(KithModel):
    """A #topic; ``slug`` is the lower-cased tag as written after '#'."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"#{self.name}"


class Post(KithModel):
    """A message in a record's feed; ``kind=system`` posts are written from domain events."""

    class Kind(models.TextChoices):
        POST = "post", "Post"
        SYSTEM = "system", "System"

    target_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    target_id = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.POST)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="collab_posts",
    )
    # The party behind the author (a portal user's Person), kept for the timeline and merges.
    author_party = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body_markdown = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    # The group whose members may read a group-visible post (the target itself for group feeds).
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="posts"
    )
    topics = models.ManyToManyField(Topic, blank=True, related_name="posts")
    # System posts: the grouping key and the lines gathered from a burst of events.
    system_key = models.CharField(max_length=120, blank=True)
    system_lines = models.JSONField(default=list, blank=True)
    comment_count = models.PositiveIntegerField(default=0)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            # A record's feed, newest first.
            models.Index(fields=["target_type", "target_id", "-id"], name="collab_post_target"),
            models.Index(fields=["group", "-id"], name="collab_post_group"),
            models.Index(fields=["kind", "system_key", "-id"], name="collab_post_system"),
        ]

    def __str__(self) -> str:
        return (self.body_markdown or "")[:60] or f"post {self.public_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class PostRevision(models.Model):
    """The text of a post or comment before an edit; edits keep history."""

    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.CASCADE, related_name="revisions"
    )
    comment = models.ForeignKey(
        "Comment", null=True, blank=True, on_delete=models.CASCADE, related_name="revisions"
    )
    body_markdown = models.TextField()
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"revision {self.pk}"


class Comment(KithModel):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="collab_comments",
    )
    author_party = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body_markdown = models.TextField()
    body_html = models.TextField()
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["post", "id"])]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.body_markdown[:60]


class Reaction(models.Model):
    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "user", "emoji"], name="uniq_collab_reaction")
        ]

    def __str__(self) -> str:
        return self.emoji


class Attachment(KithModel):
    """A file on a post or comment, stored through the default storage under MEDIA_ROOT."""

    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to="collab/%Y/%m/")
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]  # in upload order wherever a post's files are listed

    def __str__(self) -> str:
        return self.name


class Mention(models.Model):
    """An @mention in a post or comment: of a user, of a person/organisation, or both."""

    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="mentions")
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="mentions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # No unique constraint with party: a merge re-points this FK first, then de-duplicates.
    party = models.ForeignKey(
        "people.Party",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="collab_mentions",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-post"]), models.Index(fields=["party", "-post"])]

    def __str__(self) -> str:
        return f"mention in post {self.post_id}"


class Follow(KithModel):
    """``follower`` follows the record; unique per (record, follower).

    ``event_types`` lists what the follower wants notifications for ("post", "comment",
    "system" or a domain event name such as "deal.stage_changed"); empty means all.
    ``is_external`` marks portal users (customers, partners): they never get internal posts.
    """

    # Neither key has an index of its own: the unique (target_type, target_id, follower)
    # and the (follower, target_type) index start with them, and each index is one more
    # write for every follow (a create adds its owner's).
    target_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    target_id = models.BigIntegerField()
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="collab_follows",
        db_index=False,
    )
    event_types = models.JSONField(default=list, blank=True)
    is_external = models.BooleanField(default=False)
    muted = models.BooleanField(default=False)
    reason = models.CharField(max_length=20, default="manual")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target_type", "target_id", "follower"], name="uniq_collab_follow"
            )
        ]
        indexes = [models.Index(fields=["follower", "target_type"])]

    def __str__(self) -> str:
        return f"{self.follower} follows {self.target_type.model}:{self.target_id}"

    def wants(self, event_type: str) -> bool:
        if self.muted:
            return False
        if not self.event_types:
            return True
        group = "system" if "." in event_type else event_type
        return event_type in self.event_types or group in self.event_types


class FeedItem(models.Model):
    """One post in one user's feed (fan-out on write); ``mention`` marks @mentions of them."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own either: the unique (user, post) and the (user, target_type,
    # target_id, post) indexes start with it, and a post writes a row per follower.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # No B-tree index of its own: PostgreSQL would walk it backwards for "my feed" and
    # filter by user, skipping every row a popular post fanned out. Migration 0002 adds
    # a hash index on PostgreSQL (lookups by post only, no ordering) and a plain one on
    # SQLite, whose planner keeps to the (user, post) index.
    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="feed_items", db_index=False
    )
    target_type_id = models.IntegerField()
    target_id = models.BigIntegerField()
    group_id = models.BigIntegerField(null=True, blank=True)
    mention = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # Also the index "my feed" reads backwards: (user, post) newest first.
            models.UniqueConstraint(fields=["user", "post"], name="uniq_collab_feed_item")
        ]
        indexes = [
            models.Index(fields=["user", "target_type_id", "target_id", "post"]),
            models.Index(
                fields=["user", "post"], condition=Q(mention=True), name="collab_feed_mentions"
            ),
        ]

    def __str__(self) -> str:
        return f"post {self.post_id} for user {self.user_id}"


class Notification(KithModel):
    class Verb(models.TextChoices):
        MENTION = "mention", "Mentioned you"
        POST = "post", "New post"
        COMMENT = "comment", "New comment"
        SYSTEM = "system", "Update"
        INVITATION = "invitation", "Invitation"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collab_notifications"
    )
    verb = models.CharField(max_length=12, choices=Verb.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-id"]),
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="collab_notif_unread"
            ),
        ]

    def __str__(self) -> str:
        return self.text


class NotificationSettings(models.Model):
    class Digest(models.TextChoices):
        IMMEDIATE = "immediate", "Immediately"
        DAILY = "daily", "Daily digest"
        OFF = "off", "Off"

    id = models.BigAutoField(primary_key=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collab_settings"
    )
    email_digest = models.CharField(max_length=10, choices=Digest.choices, default=Digest.DAILY)
    last_digest_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.email_digest}"
