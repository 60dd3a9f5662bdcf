from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "kith.service"
    label = "service"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.people.merging import party_merged

        party_merged.connect(_move_cases, dispatch_uid="kith.service.merge")


def _move_cases(sender, *, keep, absorb, **kwargs) -> None:
    """A people merge hands the absorbed party's cases to the survivor."""
    from kith.service.services import move_party_references

    move_party_references(keep=keep, absorb=absorb)
