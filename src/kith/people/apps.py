from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "kith.people"
    label = "people"

    def ready(self) -> None:
        from kith.core import worker

        # A person's company in the search index is their *current* employer: roles that
        # began or ended with the passing of a day need the index rebuilt once a day.
        worker.periodic("people.reindex", every_seconds=24 * 3600)(_reindex)


def _reindex() -> None:
    from kith.people import search

    search.reindex_all()
