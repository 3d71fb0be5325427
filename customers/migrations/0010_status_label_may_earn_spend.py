from django.db import migrations, models

# The statuses whose customers neither earn nor spend, as the status label services had them
# when labels got their own flags.
BLOCKED_STATUSES = ("suspended", "fraud_suspected", "fraud_confirmed")


def block_by_status(apps, schema_editor):
    StatusLabel = apps.get_model("customers", "StatusLabel")
    StatusLabel.objects.filter(status__in=BLOCKED_STATUSES).update(may_earn=False, may_spend=False)


class Migration(migrations.Migration):
    dependencies = [("customers", "0009_import_run_file_path")]

    operations = [
        migrations.AddField(
            model_name="statuslabel",
            name="may_earn",
            field=models.BooleanField(
                default=True, help_text="Its customers earn points and stamps."
            ),
        ),
        migrations.AddField(
            model_name="statuslabel",
            name="may_spend",
            field=models.BooleanField(
                default=True, help_text="Its customers spend points, stamps, coupons."
            ),
        ),
        migrations.RunPython(block_by_status, migrations.RunPython.noop),
    ]
