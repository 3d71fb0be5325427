"""The generic customer extended fields every organization may use (as in the Capillary API)."""

from django.db import migrations

GLOBAL_FIELDS = [
    ("gender", "enum", ["Male", "Female", "Other"]),
    ("dob", "date", []),
    ("city", "string", []),
    ("state", "string", []),
    ("area", "string", []),
    ("zip", "string", []),
    ("country_of_residence", "string", []),
    ("nationality", "string", []),
    ("preferred_language", "string", []),
    ("preferred_store", "string", []),
    ("acquisition_channel", "string", []),
    ("age_group", "string", []),
]


def add_global_fields(apps, schema_editor):
    definition = apps.get_model("customers", "ExtendedFieldDefinition")
    for name, data_type, allowed_values in GLOBAL_FIELDS:
        definition.objects.get_or_create(
            organization=None,
            scope="customer",
            name=name,
            defaults={"data_type": data_type, "allowed_values": allowed_values},
        )


def remove_global_fields(apps, schema_editor):
    definition = apps.get_model("customers", "ExtendedFieldDefinition")
    definition.objects.filter(
        organization=None, scope="customer", name__in=[name for name, _, _ in GLOBAL_FIELDS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [migrations.RunPython(add_global_fields, remove_global_fields)]
