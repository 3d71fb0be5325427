"""A version of each programme's earning rules and tiers, kept by the database (see
loyalty/rules_versions.py).

Should SQLite rebuild one of the watched tables to alter it, the rebuilt table has no trigger:
a later migration doing so must create its triggers again (tests/loyalty/test_programme_rules.py
fails without them).
"""

import django.db.models.deletion
from django.db import migrations, models

# The tables whose rows make up a programme's rules, and how a row names its programme.
WATCHED = {
    "loyalty_earningrule": "{row}.program_id",
    "loyalty_tier": "{row}.program_id",
    "loyalty_earningrule_stores": (
        "(SELECT program_id FROM loyalty_earningrule WHERE id = {row}.earningrule_id)"
    ),
}

POSTGRESQL = [
    """
    CREATE FUNCTION loyalty_rules_version_create() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO loyalty_rulesversion (program_id, version) VALUES (NEW.id, gen_random_uuid());
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER loyalty_program_rules_version AFTER INSERT ON loyalty_program
    FOR EACH ROW EXECUTE FUNCTION loyalty_rules_version_create()
    """,
]
for table, programme in WATCHED.items():
    old, new = programme.format(row="OLD"), programme.format(row="NEW")
    POSTGRESQL += [
        f"""
        CREATE FUNCTION {table}_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- OLD is null when a row is inserted, NEW when one is deleted.
            UPDATE loyalty_rulesversion SET version = gen_random_uuid()
            WHERE program_id = {old} OR program_id = {new};
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE TRIGGER {table}_rules_changed AFTER INSERT OR UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {table}_rules_changed()
        """,
    ]

SQLITE_NEW_VERSION = "lower(hex(randomblob(16)))"
SQLITE = [
    "CREATE TRIGGER loyalty_program_rules_version AFTER INSERT ON loyalty_program BEGIN "
    "INSERT INTO loyalty_rulesversion (program_id, version) "
    f"VALUES (NEW.id, {SQLITE_NEW_VERSION}); END"
]
for table, programme in WATCHED.items():
    for event, rows in (("INSERT", ["NEW"]), ("UPDATE", ["OLD", "NEW"]), ("DELETE", ["OLD"])):
        programmes = ", ".join(programme.format(row=row) for row in rows)
        SQLITE.append(
            f"CREATE TRIGGER {table}_rules_changed_{event.lower()} AFTER {event} ON {table} "
            f"BEGIN UPDATE loyalty_rulesversion SET version = {SQLITE_NEW_VERSION} "
            f"WHERE program_id IN ({programmes}); END"
        )


def add_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    new_version = "gen_random_uuid()" if vendor == "postgresql" else SQLITE_NEW_VERSION
    schema_editor.execute(
        "INSERT INTO loyalty_rulesversion (program_id, version) "
        f"SELECT id, {new_version} FROM loyalty_program"
    )
    for statement in POSTGRESQL if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER loyalty_program_rules_version ON loyalty_program; "
            "DROP FUNCTION loyalty_rules_version_create()"
        )
        for table in WATCHED:
            schema_editor.execute(
                f"DROP TRIGGER {table}_rules_changed ON {table}; "
                f"DROP FUNCTION {table}_rules_changed()"
            )
    else:
        schema_editor.execute("DROP TRIGGER loyalty_program_rules_version")
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER {table}_rules_changed_{event}")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0013_returns")]

    operations = [
        migrations.CreateModel(
            name="RulesVersion",
            fields=[
                (
                    "program",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="rules_version",
                        serialize=False,
                        to="loyalty.program",
                    ),
                ),
                ("version", models.UUIDField()),
            ],
        ),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
