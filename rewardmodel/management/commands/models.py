"""python manage.py models [--kind K]: the model registry as a table."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from pairwise.humanize import human_bytes, human_count
from rewardmodel.models import ModelArtifact


class Command(BaseCommand):
    help = "List registered models: name, kind, parameters, size, weights hash, parents, created."

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=ModelArtifact.Kind.values, help="Only models of this kind.")

    def handle(self, *args, kind=None, **options):
        artifacts = ModelArtifact.objects.prefetch_related("parents").order_by("created_at", "id")
        if kind:
            artifacts = artifacts.filter(kind=kind)
        rows = [
            (
                a.name,
                a.kind,
                human_count(a.parameter_count),
                human_bytes(a.size_bytes),
                a.weights_hash[:12],
                ", ".join(p.name for p in a.parents.all()) or "-",
                a.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for a in artifacts
        ]
        if not rows:
            self.stdout.write("No models registered. `manage.py register_model PATH` adds one.")
            return
        header = ("name", "kind", "params", "size", "hash", "parents", "created")
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
