"""The `labelers` group: managers put labeler accounts in it (admin > Users) and add them to
projects. It carries no admin permissions: labelers work through the ranking screen and the API."""

from django.db import migrations

LABELERS_GROUP = "labelers"


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=LABELERS_GROUP)


def remove_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=LABELERS_GROUP, user__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0003_quality_snapshot"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
