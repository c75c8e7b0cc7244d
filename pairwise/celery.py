"""Celery app. Queues: `default` (generation, exports) and `training` (GPU hosts)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")

app = Celery("pairwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
