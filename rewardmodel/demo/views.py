"""The demo loop's live status, polled by the home page (managers only). No torch here."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404

from annotate.permissions import manager_required
from rewardmodel.demo.loop import demo_loop_status
from rewardmodel.models import DemoLoop


@manager_required
def demo_loop_status_json(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(demo_loop_status(get_object_or_404(DemoLoop, pk=pk)))
