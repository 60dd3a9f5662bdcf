from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "kith.community"
    label = "community"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.core import worker

        # Trust levels follow activity over a rolling window: promote and demote hourly.
        worker.periodic("community.trust_levels", every_seconds=3600)(_recompute_trust)
        _register_panels()
        _register_mirrors()
        # The global search's substring indexes over other apps' tables are (re)built
        # after every migrate, once all tables exist (see kith.web.global_search_index).
        from django.db.models.signals import post_migrate

        from kith.web import global_search_index

        post_migrate.connect(
            global_search_index.on_post_migrate, sender=self, dispatch_uid="kith.global_search"
        )


def _recompute_trust() -> None:
    from kith.community import tasks

    tasks.recompute_trust_levels.call()


def _register_panels() -> None:
    from kith.web import panels

    panels.register(
        "party", "community.member", "kith.community.views.party_panel", column="side", order=60
    )


def _register_mirrors() -> None:
    """Interactions mirroring topics and posts are shown only to who may see them."""
    from kith.community import access
    from kith.community.models import Post
    from kith.interactions.access import register_mirror as register

    register("community.topic", lambda user: access.scope_topics(user))
    register(
        "community.post",
        lambda user: access.scope_posts(
            user, None, Post.objects.filter(topic__in=access.scope_topics(user).values("pk"))
        ),
    )
