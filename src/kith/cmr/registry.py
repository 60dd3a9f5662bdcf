"""Which records belong to a person's data, app by app: the export/erasure registry.

Every model with a path to ``people.Party`` (through any chain of foreign keys, the
customer's login included) is either **exported** — with the lookups that lead from it
to the person — or **excluded** with a reason. ``tests/cmr/test_export.py`` walks
Django's model graph and fails for a model in neither list, so a new model cannot be
forgotten. Apps may register their own models (``register_export`` /
``register_excluded`` in their ``AppConfig.ready``); the models of apps that have not
are registered below, in this module, so no other app's files need to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExportSpec:
    label: str  # "app_label.ModelName"
    # ORM lookups from the model to the person's Party (compared with its pk); a row is
    # the person's when any of them matches.
    lookups: tuple[str, ...]
    # Fields never exported (secrets); fields whose name says secret are dropped anyway.
    omit: tuple[str, ...] = field(default_factory=tuple)


EXPORTS: dict[str, ExportSpec] = {}
EXCLUDED: dict[str, str] = {}


def register_export(label: str, *lookups: str, omit: tuple[str, ...] = ()) -> None:
    """Export rows of ``label`` reached from the person through any of ``lookups``."""
    if not lookups:
        raise ValueError("an export needs at least one lookup to the person")
    EXCLUDED.pop(label, None)
    EXPORTS[label] = ExportSpec(label, tuple(lookups), tuple(omit))


def register_excluded(label: str, reason: str) -> None:
    """Leave ``label`` out of the export, saying why (shown in every export)."""
    if not reason.strip():
        raise ValueError("an exclusion needs a reason")
    EXPORTS.pop(label, None)
    EXCLUDED[label] = reason


# ---------------------------------------------------------------- the person and login
register_export("people.Party", "pk")
register_export("people.ContactPoint", "party")
register_export("people.Relationship", "subject", "object")
register_export("people.SavedView", "user__person")
register_export("accounts.User", "person", omit=("password",))
register_export("accounts.PortalSignup", "user__person", omit=("password_hash",))
register_excluded(
    "accounts.ApiToken", "Staff API credentials (hashes of secrets); customers hold none."
)
register_excluded(
    "people.ImportJob", "A staff import run; the records it created are exported themselves."
)
register_export("core.AuditEntry", "party_id", "actor__person")
register_excluded(
    "core.IdempotencyRecord",
    "A replay cache of API answers kept one day; the records it refers to are exported.",
)

# ---------------------------------------------------------------- cmr
register_export("cmr.Consent", "person")
register_export("cmr.ConsentReceipt", "person")
register_export("cmr.Preference", "person")
register_export("cmr.SentMessage", "person")
register_export("cmr.AccessLogEntry", "person")
register_export("cmr.CorrectionRequest", "person")
register_export("cmr.ErasureRequest", "person")
register_export("cmr.TermsAgreement", "person")
register_export("cmr.Intent", "person")
register_export("cmr.Offer", "intent__person")

# ---------------------------------------------------------------- interactions, sales, service
register_export("interactions.Interaction", "party")
register_export("interactions.Transaction", "party")
register_export("sales.Deal", "person")
register_export("sales.DealContact", "person")
register_export("sales.DealLine", "deal__person")
register_export("sales.StageChange", "deal__person")
register_export("service.Case", "requester")
register_export("service.CaseMessage", "case__requester", "sender")
register_export("service.Attachment", "message__case__requester")
register_export("service.CsatResponse", "case__requester")
register_export("service.Deflection", "party", "user__person")
register_export("service.InboundMail", "case__requester")
register_export("service.SlaBreach", "case__requester")
register_export("service.StatusChange", "case__requester")
register_excluded("service.Queue", "A staff work queue; it holds nothing about a customer.")
register_excluded(
    "service.SlaPolicy", "An organisation's service-level terms, not about one person."
)

# ---------------------------------------------------------------- work
register_export("work.Activity", "party")
register_export("work.MeetingAttendee", "party", "user__person")
register_export("work.Meeting", "attendees__party", "attendees__user__person")
register_excluded(
    "work.CalendarFeed", "A staff member's private calendar subscription (a secret URL)."
)

# ---------------------------------------------------------------- collaboration
register_export("collab.Post", "author__person", "author_party")
register_export("collab.Comment", "author__person", "author_party")
register_export(
    "collab.Attachment", "uploaded_by__person", "post__author__person", "comment__author__person"
)
register_export("collab.PostRevision", "edited_by__person")
register_export("collab.Reaction", "user__person")
register_export("collab.Follow", "follower__person")
register_export("collab.Group", "created_by__person")
register_export("collab.Membership", "user__person")
register_export("collab.Mention", "user__person", "party")
register_export("collab.Notification", "user__person")
register_export("collab.NotificationSettings", "user__person")
register_excluded(
    "collab.FeedItem",
    "A per-reader copy of posts in a feed (a cache); the posts themselves are exported.",
)

# ---------------------------------------------------------------- community and ideas
register_export("community.MemberProfile", "user__person")
register_export("community.Topic", "author__person")
register_export("community.Post", "author__person")
register_export("community.PostRevision", "editor__person")
register_export("community.PostRead", "user__person")
register_export("community.Vote", "voter__person")
register_export("community.Flag", "flagger__person")
register_export("community.ReputationEvent", "user__person")
register_export("community.BadgeAward", "user__person")
register_export("community.Visit", "user__person")
register_excluded(
    "community.Space", "A community space; reached only through its group, not a member's data."
)
register_export("ideas.Idea", "author__person")
register_export("ideas.IdeaComment", "author__person")
register_export("ideas.IdeaContributor", "user__person")
register_export("ideas.IdeaFollow", "user__person")
register_export("ideas.IdeaVote", "voter__person")
register_export("ideas.IdeaStatusChange", "idea__author__person")
register_export("ideas.IdeaRevision", "editor__person", "idea__author__person")
register_export("community.SpaceReputation", "user__person")

# ---------------------------------------------------------------- listening and identity
register_export("listening.Mention", "person")
register_excluded("listening.Source", "A staff-configured listening source; about no one.")
register_excluded("listening.Keyword", "A term staff track; about no one.")
register_excluded("listening.SpikeAlert", "A volume alert on a source or keyword: figures only.")
register_excluded(
    "people.IdentityModel", "A trained identity-resolution model: weights, not a person's data."
)
register_export("people.MatchSuggestion", "left", "right")
register_excluded(
    "core.TrashItem",
    "Deleted records kept a few days so staff can restore them; once restored they are exported.",
)
register_excluded(
    "mail.EmailTemplate", "A staff e-mail template; it holds nothing about a customer."
)
register_export("mail.OutgoingEmail", "party", omit=("error",))
register_excluded(
    "ideas.IdeaLink", "A staff link from an idea to a deal or case; those are exported."
)

# ---------------------------------------------------------------- insights
register_export("insights.InfluenceScore", "party")
register_excluded(
    "insights.InfluenceRun", "A staff-requested batch run; the person's scores are exported."
)
