"""The member-care groups: agents look after customers; supervisors also move points, merge and
erase. Assign staff to one of them; superusers need neither."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = "view"
EDIT = ("view", "add", "change", "delete")

AGENT = {
    "customers": {
        "customer": ("view", "add", "change", "add_stamps", "send_card_links"),
        "sourceaccount": (VIEW,),
        "identifier": EDIT,
        "commchannel": EDIT,
        "statuslabel": (VIEW,),
        "extendedfielddefinition": (VIEW,),
    },
    "loyalty": dict.fromkeys(
        (
            "program",
            "tier",
            "enrollment",
            "pointstransaction",
            "pointslot",
            "tierchange",
            "stampcard",
            "reward",
            "customercard",
            "stamptransaction",
            "couponseries",
            "coupon",
            "cardlinkdelivery",
        ),
        (VIEW,),
    ),
    "crm": {"store": (VIEW,)},
}
SUPERVISOR_EXTRA = {
    "customers": {"customer": ("delete", "adjust_points", "merge_customer", "erase_customer")},
}
GROUPS = {"agent": [AGENT], "supervisor": [AGENT, SUPERVISOR_EXTRA]}


def codenames(grants: dict) -> set[tuple[str, str]]:
    wanted = set()
    for app_label, models in grants.items():
        for model, actions in models.items():
            for action in actions:
                codename = f"{action}_{model}" if action in EDIT else action
                wanted.add((app_label, codename))
    return wanted


def create_groups(apps, schema_editor):
    # Permissions are otherwise created only after every migration has run.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in GROUPS.items():
        wanted = set().union(*(codenames(g) for g in grants))
        permissions = [
            p
            for p in Permission.objects.select_related("content_type")
            if (p.content_type.app_label, p.codename) in wanted
        ]
        missing = wanted - {(p.content_type.app_label, p.codename) for p in permissions}
        if missing:
            raise RuntimeError(f"permissions not found for group {name}: {sorted(missing)}")
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*permissions)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("crm", "0002_api"),
        ("customers", "0006_merge_and_erase"),
        ("loyalty", "0004_points_transfers"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
