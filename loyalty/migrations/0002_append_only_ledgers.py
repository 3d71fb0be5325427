"""The database refuses to change a ledger row once written: corrections are new rows."""

from django.db import migrations

LEDGERS = ["loyalty_pointstransaction", "loyalty_stamptransaction", "loyalty_tierchange"]

POSTGRES_FUNCTION = """
CREATE FUNCTION crm_refuse_ledger_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%% is append-only: add a new row instead', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def add_triggers(apps, schema_editor):
    execute = schema_editor.execute
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        execute(POSTGRES_FUNCTION)
    for table in LEDGERS:
        if vendor == "postgresql":
            execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION crm_refuse_ledger_update()"
            )
        elif vendor == "sqlite":
            execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: add a new row instead'); END"
            )
        else:
            raise NotImplementedError(f"append-only trigger for {vendor}")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in LEDGERS:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            schema_editor.execute(f"DROP TRIGGER {table}_append_only")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION crm_refuse_ledger_update()")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
