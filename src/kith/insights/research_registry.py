"""The research models in the export and erasure registries (``kith.cmr``).

Imported from ``InsightsConfig.ready``. Panel members, invitations and answers are the
person's own data; panels, surveys and questions are staff work that reaches a person
only through the staff member who wrote them.
"""

from __future__ import annotations

from kith.cmr.erasure import register_erasure, register_kept
from kith.cmr.registry import register_excluded, register_export

STAFF_WORK = "Written by staff; reaches a person only through its author's login."

register_excluded("insights.Panel", STAFF_WORK)
register_excluded("insights.Survey", STAFF_WORK)
register_excluded("insights.SurveyQuestion", STAFF_WORK)
register_export("insights.PanelMember", "party")
register_export("insights.SurveyInvitation", "party")
register_export("insights.SurveyAnswer", "invitation__party")

register_kept("insights.Panel", "A staff sample definition; holds counts, no one's data.")
register_kept("insights.Survey", "A staff questionnaire; holds no one's data.")
register_kept("insights.SurveyQuestion", "A staff question; holds no one's data.")
register_erasure("insights.PanelMember", "party", delete=True)
register_kept(
    "insights.SurveyInvitation",
    "Kept for the survey's counts (who was asked, when); no free text. Answers' text is blanked.",
)
register_erasure("insights.SurveyAnswer", "invitation__party", scrub=("text",))
