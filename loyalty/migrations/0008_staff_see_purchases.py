"""The member-care groups see purchases and earning rules, as they see the rest of loyalty."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SEEN = ("transaction", "transactionline", "earningrule")
GROUPS = ("agent", "supervisor")


def grant(apps, schema_editor):
    # Permissions are otherwise created only after every migration has run.
    app_config = apps.get_app_config("loyalty")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(
        content_type__app_label="loyalty", codename__in=[f"view_{model}" for model in SEEN]
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(
        content_type__app_label="loyalty", codename__in=[f"view_{model}" for model in SEEN]
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0007_purchases"),
        ("customers", "0007_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
