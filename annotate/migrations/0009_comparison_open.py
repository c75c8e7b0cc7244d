from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


def set_open(apps, schema_editor):
    # Open: not gold and short of the project's overlap_k (models.Comparison.is_open).
    Comparison = apps.get_model("annotate", "Comparison")
    Project = apps.get_model("annotate", "Project")
    k = Subquery(Project.objects.filter(pk=OuterRef("project_id")).values("overlap_k")[:1])
    Comparison.objects.filter(Q(is_gold=True) | Q(judgment_count__gte=k)).update(is_open=False)


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0008_import_key_response_messages"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="comparison",
            name="cmp_pick_idx",
        ),
        migrations.AddField(
            model_name="comparison",
            name="is_open",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(set_open, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(fields=["comparison", "labeler"], name="asg_seen_idx"),
        ),
        migrations.AddIndex(
            model_name="comparison",
            index=models.Index(
                condition=models.Q(("is_open", True)),
                fields=["project", "-priority", "id"],
                name="cmp_open_pick_idx",
            ),
        ),
    ]
