from django.db import migrations, models


def forget_incomplete_records(apps, schema_editor):
    """Records left incomplete by the old two-transaction scheme: their work either never
    committed or its response is unknown, and they would block their key's retries."""
    apps.get_model("crm", "IdempotencyRecord").objects.filter(completed_at__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_configuration_changes")]

    operations = [
        migrations.RunPython(forget_incomplete_records, migrations.RunPython.noop),
        migrations.RemoveField(model_name="idempotencyrecord", name="completed_at"),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="content_type",
            field=models.CharField(blank=True, max_length=100),
        ),
    ]
