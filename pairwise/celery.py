"""Celery app. Queues: `default` (generation, exports, the reaper) and `training` (GPU hosts).
Tasks are found in each app's tasks.py; beat's schedule is settings.CELERY_BEAT_SCHEDULE."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")

app = Celery("pairwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
