from django.db import migrations, models


def copy_import_keys(apps, schema_editor):
    # Imported judgments kept their derived key in client_id ("ext-" + hash); it moves to its own
    # column so a re-import still finds them. Labelers' judgments (source human) are left alone,
    # even where a labeler chose an "ext-" client_id.
    Judgment = apps.get_model("annotate", "Judgment")
    Judgment.objects.filter(source="external", client_id__startswith="ext-").update(
        import_key=models.F("client_id")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0007_simulated_labelers"),
    ]

    operations = [
        migrations.AddField(
            model_name="judgment",
            name="import_key",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="response",
            name="messages",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(copy_import_keys, migrations.RunPython.noop),
    ]
