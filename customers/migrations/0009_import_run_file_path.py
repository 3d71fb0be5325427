from django.db import migrations, models


class Migration(migrations.Migration):
    """ImportRun.source is named file_path in Python; its column stays `source`, untouched."""

    dependencies = [("customers", "0008_customer_import_run")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField("importrun", "source", "file_path"),
                migrations.AlterField(
                    model_name="importrun",
                    name="file_path",
                    field=models.CharField(
                        db_column="source", help_text="The file imported, as given.", max_length=500
                    ),
                ),
            ],
        ),
    ]
