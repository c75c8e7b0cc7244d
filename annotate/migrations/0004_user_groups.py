"""Two groups for people administration:

- `labelers`: labeler accounts. No permissions: labelers work through the ranking screen and the
  API, never the admin. Managers add them to projects (Project admin, "labelers").
- `managers`: staff who run annotation projects in the admin. Every permission of the annotate
  app (as of this migration), and viewing users. Not changing users: Django's change_user would
  let a manager make anyone a superuser. Accounts and group membership stay with superusers.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

LABELERS, MANAGERS = "labelers", "managers"


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); create them now.
    for label in ("auth", "annotate"):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get_or_create(name=LABELERS)
    managers, _ = Group.objects.get_or_create(name=MANAGERS)
    managers.permissions.add(
        *Permission.objects.filter(content_type__app_label="annotate"),
        *Permission.objects.filter(content_type__app_label="auth", codename="view_user"),
    )


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=[LABELERS, MANAGERS], user__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0003_quality_snapshot"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
