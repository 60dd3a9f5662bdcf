"""The idea portal's app: registers its person-page panel and its timeline mirrors."""

from django.apps import AppConfig


class IdeasConfig(AppConfig):
    name = "kith.ideas"
    label = "ideas"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        _register_mirrors()
        _register_panels()


def _register_mirrors() -> None:
    """Interactions mirroring ideas, votes and comments are shown only to who may see them."""
    from kith.ideas import access
    from kith.interactions.access import register_mirror

    register_mirror("ideas.idea", access.mirror_ideas)
    register_mirror("ideas.ideavote", access.mirror_votes)
    register_mirror("ideas.ideacomment", access.mirror_comments)


def _register_panels() -> None:
    from kith.web import panels

    panels.register(
        "party", "ideas.contributions", "kith.ideas.views.party_panel", column="side", order=65
    )
