"""Simulated labelers (manage.py simulate_labelers):

- Judgment.source gains "simulated": judgment_record stores it for accounts in the group below.
- The `simulated` group holds those accounts. No permissions: they never log in (unusable
  password) and are not in `labelers`; membership is what marks their judgments.
"""

from django.db import migrations, models

SIMULATED = "simulated"


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=SIMULATED)


def remove_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=SIMULATED, user__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0006_assignment_lease_slots"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterField(
            model_name="judgment",
            name="source",
            field=models.CharField(
                choices=[("human", "Labeler"), ("external", "Imported"), ("simulated", "Simulated labeler")],
                default="human",
                max_length=10,
            ),
        ),
        migrations.RunPython(create_group, remove_group),
    ]
