"""POST /api/models/<id>/score/ {"prompt": ..., "response": ...} -> {"score": float}

The web process never imports torch, so the score is computed by a worker: the endpoint sends
the `score_text` task to the `default` queue and waits up to PAIRWISE_SCORE_WAIT_SECONDS for its
result (Celery's result backend). In time: 200 {"score", "model"}. Not in time (no worker
running, or the model is still loading): 202 {"task_id", "result_url"}; GET that URL later for
200 with the score, 202 while pending, or the error. Managers only (session or API token).
"""

from __future__ import annotations

from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult
from django.conf import settings
from django.urls import reverse
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.errors import NotFound, PairwiseError
from rewardmodel.models import ModelArtifact
from rewardmodel.tasks import score_text


class ScoringFailed(PairwiseError):
    status = 502
    code = "scoring_failed"


def _pending(request, task_id: str) -> Response:
    url = request.build_absolute_uri(reverse("api-score-result", args=[task_id]))
    return Response({"task_id": task_id, "status": "pending", "result_url": url}, status=202)


def _answer(request, result: AsyncResult, *, wait: float) -> Response:
    try:
        value = result.get(timeout=wait, propagate=True, disable_sync_subtasks=False)
    except CeleryTimeout:
        return _pending(request, result.id)
    except Exception as exc:  # the task raised: tell the caller what went wrong
        raise ScoringFailed(f"Scoring failed: {type(exc).__name__}: {exc}") from None
    return Response({"score": value["score"], "model": value["model"]})


class ScoreView(APIView):
    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        prompt = serializers.JSONField(
            help_text="Text (one user turn) or a list of {role, content} messages."
        )
        response = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=100_000)

        def validate_prompt(self, value: Any) -> Any:
            if isinstance(value, str) and value.strip():
                return value
            if (
                isinstance(value, list)
                and value
                and all(
                    isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") for m in value
                )
            ):
                return [{"role": str(m["role"]), "content": m["content"]} for m in value]
            raise serializers.ValidationError("Give text, or a non-empty list of {role, content} messages.")

    def post(self, request, pk: int) -> Response:
        model = ModelArtifact.objects.filter(pk=pk).first()
        if model is None:
            raise NotFound(f"No model #{pk}.")
        if model.kind != ModelArtifact.Kind.REWARD:
            raise PairwiseError(
                f"Model {model.name!r} is a {model.kind} model; scoring needs a reward model."
            )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = score_text.apply_async(
            args=[model.pk, data.validated_data["prompt"], data.validated_data["response"]]
        )
        return _answer(request, result, wait=settings.PAIRWISE_SCORE_WAIT_SECONDS)


class ScoreResultView(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request, task_id: str) -> Response:
        # A short wait: the caller is polling.
        return _answer(request, AsyncResult(task_id, app=score_text.app), wait=1.0)
