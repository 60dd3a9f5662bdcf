"""Listening schema: sources, tracked keywords and mentions (the engagement queue's rows).

A ``Mention`` is one post, reply or message seen on a source, after the pipeline
(``kith.listening.pipeline``) normalised and enriched it. ``(source, external_id)`` is
unique: the database is the arbiter of "already ingested", so re-ingesting a batch, a
replayed webhook or a Redis Stream entry delivered twice stores nothing new.

The queue order is stored, not computed per request: ``rank`` is the logarithm of the
engagement priority with the recency decay folded in as ``published_at / half-life``
(see ``kith.listening.pipeline.priority_rank``). Because every mention decays at the same
rate, the order of ``rank`` is the order of the decaying priority at any instant, so
the queue page walks one index and nothing has to be rewritten as time passes;
``priority`` (0–100, shown to people) is refreshed by a periodic job.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import KithModel


class SourceKind(models.TextChoices):
    FEED = "feed", "RSS / Atom feed"
    MASTODON = "mastodon", "Mastodon"
    WEBHOOK = "webhook", "Inbound webhook"
    UPLOAD = "upload", "Bulk upload"
    COMMUNITY = "community", "Own community"
    CASE_MAIL = "case_mail", "Own case e-mail"


# Kinds the worker polls on a schedule; the others are pushed to Kith.
POLLED_KINDS = (SourceKind.FEED, SourceKind.MASTODON, SourceKind.COMMUNITY, SourceKind.CASE_MAIL)


class Source(KithModel):
    """Where mentions come from, with the poller's schedule and its visible error state.

    ``config`` holds what the kind needs (feed URL, Mastodon instance and hashtags…),
    ``state`` what a fetch hands back for the next one (ETag, Last-Modified, since_id),
    both owned by ``kith.listening.sources``. A webhook source's signing secret is never
    stored: it is derived from the site's SECRET_KEY and ``webhook_salt`` (random, replaced
    on rotation), so a copy of the database alone cannot sign requests.
    """

    class Status(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"

    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict, blank=True)
    state = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    poll_interval_seconds = models.PositiveIntegerField(default=900)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OK)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    webhook_salt = models.CharField(max_length=64, blank=True)
    # Engagement: where this source's mentions are assigned and how fast they need a
    # first answer (a setting in the database, not a constant).
    queue = models.ForeignKey(
        "service.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_minutes = models.PositiveIntegerField(default=240)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    followers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="listening_sources"
    )
    mention_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The poller: enabled polled sources whose time has come.
            models.Index(fields=["enabled", "next_poll_at"], name="lst_source_due"),
        ]
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Keyword(KithModel):
    """A tracked term (the brand, a product, a competitor) matched on word boundaries."""

    term = models.CharField(max_length=100)
    # Lower-cased, NFC, collapsed spaces: unique so "Acme" and "acme " are one keyword.
    normalized = models.CharField(max_length=100, unique=True)
    is_competitor = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    followers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="listening_keywords"
    )

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", "Negative"
    NEUTRAL = "neutral", "Neutral"
    POSITIVE = "positive", "Positive"


class MentionStatus(models.TextChoices):
    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    REPLIED = "replied", "Replied"
    CONVERTED = "converted", "Converted"
    DISMISSED = "dismissed", "Dismissed"
    SPAM = "spam", "Spam"


# Statuses still waiting for an answer: the engagement queue.
OPEN_STATUSES = (MentionStatus.NEW, MentionStatus.ASSIGNED)
CLOSED_STATUSES = (
    MentionStatus.REPLIED,
    MentionStatus.CONVERTED,
    MentionStatus.DISMISSED,
    MentionStatus.SPAM,
)


class ConvertedKind(models.TextChoices):
    NONE = "", "—"
    CASE = "case", "Case"
    IDEA = "idea", "Idea"
    DEAL = "deal", "Deal"


class Mention(KithModel):
    # source, person and assignee have no index of their own: the indexes in Meta start
    # with each of them, and an ingest writes a mention for every post it takes.
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="mentions", db_index=False
    )
    external_id = models.CharField(max_length=255)
    channel = models.CharField(max_length=20)
    text = models.TextField()
    url = models.CharField(max_length=1000, blank=True)
    published_at = models.DateTimeField()
    received_at = models.DateTimeField()
    author_handle = models.CharField(max_length=255, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    author_url = models.CharField(max_length=1000, blank=True)
    author_followers = models.PositiveIntegerField(null=True, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    language = models.CharField(max_length=8, blank=True)
    sentiment_label = models.CharField(
        max_length=10, choices=Sentiment.choices, default=Sentiment.NEUTRAL
    )
    sentiment_confidence = models.FloatField(default=0.0)
    # Signed polarity in [-1, 1]: -confidence for negative, +confidence for positive, 0
    # for neutral (the Interaction.sentiment scale).
    sentiment_score = models.FloatField(default=0.0)
    keywords = models.JSONField(default=list, blank=True)  # normalised tracked terms
    hashtags = models.JSONField(default=list, blank=True)
    topic = models.CharField(max_length=60, blank=True)
    # Near-duplicate detection: a hash of the normalised text, looked up through its
    # index for reposts and quote-copies (see kith.listening.pipeline).
    fingerprint = models.CharField(max_length=40, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    person = models.ForeignKey(
        "people.Party",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mentions",
        db_index=False,
    )
    interaction = models.ForeignKey(
        "interactions.Interaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(max_length=12, choices=MentionStatus.choices, default="new")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="listening_mentions",
        db_index=False,
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # Derived by the database from ``status``: the queue's leading index column.
    is_open = models.GeneratedField(
        expression=models.Case(
            models.When(status__in=["new", "assigned"], then=models.Value(True)),
            default=models.Value(False),
        ),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    # Engagement priority 0–100 as of ``priority_at``; ``rank`` orders the queue (module doc).
    priority = models.FloatField(default=0.0)
    priority_at = models.DateTimeField(null=True, blank=True)
    rank = models.FloatField(default=0.0)
    first_response_due = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    reply_url = models.CharField(max_length=1000, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_kind = models.CharField(
        max_length=10, choices=ConvertedKind.choices, default="", blank=True
    )
    converted_id = models.BigIntegerField(null=True, blank=True)
    converted_url = models.CharField(max_length=500, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    # A mention of an internal source (a community post, a customer's case e-mail) mirrors
    # a record with access rules of its own: (its content type, its id). A reader who may
    # not see that record does not see the mention (``kith.listening.access``), by the
    # same registry the timeline's mirrors use (``kith.interactions.access``).
    related_type = models.ForeignKey(
        "contenttypes.ContentType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    related_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="uniq_listening_mention_source_ext"
            ),
            models.CheckConstraint(
                condition=Q(sentiment_score__gte=-1, sentiment_score__lte=1),
                name="listening_mention_sentiment_range",
            ),
        ]
        indexes = [
            # The engagement queue: open mentions, highest rank first (keyset on rank,
            # id). "is_open = true ORDER BY rank DESC, id DESC" walks it in order and
            # stops after a page; "status IN (new, assigned)" could not (two ranges, a
            # sort), and a partial index is not used by SQLite with bound parameters.
            models.Index(fields=["is_open", "-rank", "-id"], name="lst_mention_queue"),
            models.Index(fields=["assignee", "is_open", "-rank", "-id"], name="lst_mention_mine"),
            # Dashboards: volume and sentiment over time, per source, per topic.
            models.Index(fields=["published_at"], name="lst_mention_published"),
            models.Index(fields=["source", "published_at"], name="lst_mention_src_pub"),
            models.Index(fields=["topic", "published_at"], name="lst_mention_topic_pub"),
            models.Index(fields=["author_handle", "channel"], name="lst_mention_author"),
            models.Index(fields=["person", "-published_at"], name="lst_mention_person"),
            models.Index(fields=["fingerprint"], name="lst_mention_fingerprint"),
            models.Index(fields=["first_response_due"], name="lst_mention_due"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.external_id}: {self.text[:60]}"


class SpikeAlert(KithModel):
    """One spike in volume or negative share on a source or keyword (``kith.listening.alerts``).

    A spike that lasts several hours stays one row: each hourly check that still sees it
    moves ``last_window_start`` on instead of notifying again, so followers hear about it
    once. ``(source or keyword, metric, window_start)`` is unique, so two workers checking the same
    hour cannot both notify.
    """

    class Scope(models.TextChoices):
        SOURCE = "source", "Source"
        KEYWORD = "keyword", "Keyword"

    class Metric(models.TextChoices):
        VOLUME = "volume", "Volume"
        NEGATIVE_SHARE = "negative_share", "Negative share"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    keyword = models.ForeignKey(
        Keyword, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    window_start = models.DateTimeField()  # the first hour that spiked
    last_window_start = models.DateTimeField()  # the latest hour still spiking
    observed = models.FloatField()
    baseline_mean = models.FloatField()
    baseline_sd = models.FloatField()
    threshold = models.FloatField()
    count = models.PositiveIntegerField()  # mentions in the window that spiked
    notified = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # Two partial constraints, not one over both nullable columns: NULLs are
            # distinct in a unique index, so that one would hold nothing.
            models.UniqueConstraint(
                fields=["source", "metric", "window_start"],
                condition=Q(source__isnull=False),
                name="uniq_listening_spike_source",
            ),
            models.UniqueConstraint(
                fields=["keyword", "metric", "window_start"],
                condition=Q(keyword__isnull=False),
                name="uniq_listening_spike_keyword",
            ),
        ]
        indexes = [models.Index(fields=["-window_start"], name="lst_spike_recent")]
        ordering = ["-window_start", "-id"]

    def __str__(self) -> str:
        return f"{self.metric} spike on {self.source or self.keyword} at {self.window_start}"
