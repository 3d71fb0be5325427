"""A trigram index for finding a card by a fragment of its code (`code::text LIKE %s`) on
PostgreSQL; see customers/migrations/0003_search_indexes.py."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS card_code_trgm "
        "ON loyalty_customercard USING gin ((code::text) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS card_code_trgm")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("loyalty", "0002_append_only_ledgers")]

    operations = [migrations.RunPython(create_index, drop_index)]
