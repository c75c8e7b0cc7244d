"""The web process never imports torch: every module of the project, the URLconf, the admin and
the manager pages load and render in a fresh interpreter without pulling in the ML stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "trl", "accelerate", "datasets")

SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)

    modules = []
    for package in ("pairwise", "annotate", "rewardmodel"):
        root = importlib.import_module(package)
        modules.append(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            importlib.import_module(info.name)
            modules.append(info.name)
    importlib.import_module("pairwise.celery")

    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import get_resolver, reverse
    from annotate.models import Project
    from rewardmodel.models import GenerationJob, ModelArtifact

    get_resolver().url_patterns
    user = User.objects.create_superuser("root", "", "pw")
    project = Project.objects.create(name="P")
    artifact = ModelArtifact.objects.create(kind="base", name="m", path="/nowhere", weights_hash="ab" * 32)
    job = GenerationJob.objects.create(project=project, model=artifact)
    client = Client()
    client.force_login(user)
    from rewardmodel.models import TrainingRun
    urls = ["/admin/", reverse("generation-new"), reverse("generation-job", args=[job.pk]),
            reverse("job-status", args=["generation", job.pk]), reverse("runs"), reverse("run-new")]
    urls += [reverse("run-new-kind", args=[kind]) for kind in TrainingRun.Kind.values]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:%s_%s_changelist" % info))
    urls.append(reverse("admin:rewardmodel_modelartifact_change", args=[artifact.pk]))
    urls.append(reverse("admin:rewardmodel_generationjob_change", args=[job.pk]))
    statuses = {url: client.get(url).status_code for url in urls}
    heavy = [name for name in HEAVY if name in sys.modules]
    print(json.dumps({"modules": modules, "statuses": statuses, "heavy": heavy}))
    """
)


def test_it_imports_every_module_and_renders_pages_without_torch(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_"))}
    env.update(
        PAIRWISE_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pairwise.settings", PYTHONPATH=str(ROOT)
    )
    result = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n" + SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The walk really covered the ML-facing modules (they must be torch-free at import too).
    for name in (
        "rewardmodel.training.generate",
        "rewardmodel.training.base_model",
        "rewardmodel.generation.responses",
        "rewardmodel.tasks",
        "rewardmodel.management.commands.generate_responses",
        "annotate.pair_strategies",
    ):
        assert name in report["modules"]
    assert report["statuses"] and set(report["statuses"].values()) == {200}, report["statuses"]
    assert report["heavy"] == []
