"""Trigram indexes for customer search, on the very expressions Django's lookups compile to on
PostgreSQL (`icontains` is `UPPER(col::text) LIKE UPPER(%s)`, `contains` is `col::text LIKE %s`),
so that a fragment of a name, email, phone or identifier is found without a table scan.
Built CONCURRENTLY, so that adding them to a live database blocks no writes. SQLite needs none."""

from django.db import migrations

INDEXES = {
    "customer_first_name_trgm": ("customers_customer", "UPPER(first_name::text) gin_trgm_ops"),
    "customer_last_name_trgm": ("customers_customer", "UPPER(last_name::text) gin_trgm_ops"),
    "customer_email_trgm": ("customers_customer", "UPPER(email::text) gin_trgm_ops"),
    "customer_phone_trgm": ("customers_customer", "(phone::text) gin_trgm_ops"),
    "identifier_value_trgm": ("customers_identifier", "UPPER(value::text) gin_trgm_ops"),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin ({expression})"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("customers", "0002_global_extended_fields")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
