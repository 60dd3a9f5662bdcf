"""Operations Kith's migrations share.

``drop_indexes`` removes indexes by name. An ``AlterField`` that only turns a field's
``db_index`` off makes Django rebuild the whole table on SQLite (every row copied into
a new table) just to remove an index; migrations pair this with the ``AlterField`` in
``SeparateDatabaseAndState`` instead. The names are those Django gave the indexes,
the same on SQLite and PostgreSQL (PostgreSQL also made a ``_like`` one for a text
column); ``IF EXISTS`` keeps it harmless where one was never made.
"""

from django.db import migrations


def drop_indexes(*names: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        [f'DROP INDEX IF EXISTS "{name}"' for name in names], reverse_sql=migrations.RunSQL.noop
    )
