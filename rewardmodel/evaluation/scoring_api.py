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
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.api.authentication import TokenAuthentication
from annotate.api.serializers import ErrorSerializer
from annotate.permissions import IsManager
from pairwise.errors import NotFound, PairwiseError
from rewardmodel.models import ModelArtifact
from rewardmodel.registry.artifacts import artifact_kind_check
from rewardmodel.tasks import score_text


class ScoringFailed(PairwiseError):
    status = 502
    code = "scoring_failed"


class ScoreSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Score"

    score = serializers.FloatField()
    model = serializers.IntegerField(help_text="The reward model's id.")


class PendingSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ScorePending"

    task_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending"])
    result_url = serializers.URLField(help_text="GET it later for the score.")


_ERROR_TEXT = {
    400: "Invalid input, or not a reward model.",
    401: "Not logged in (no valid token).",
    403: "Managers only (or not logged in, with a session).",
    404: "No such model.",
    502: "The scoring task failed (code scoring_failed).",
}


def _answers(*errors: int) -> dict:
    """The documented answers: the score, still pending, or an error body (annotate.api.errors)."""
    return {
        200: ScoreSerializer,
        202: OpenApiResponse(PendingSerializer, description="Not scored in time; poll result_url."),
        **{code: OpenApiResponse(ErrorSerializer, description=_ERROR_TEXT[code]) for code in errors},
    }


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
    # As the rest of the API (annotate.api.views.LabelerApi): token first, so an anonymous call
    # answers 401 with `WWW-Authenticate: Token`, and a stray session cookie is not looked at first.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, IsManager]

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

    @extend_schema(
        tags=["models"],
        summary="Score a response with a reward model",
        request=InputSerializer,
        responses=_answers(400, 401, 403, 404, 502),
    )
    def post(self, request, pk: int) -> Response:
        model = ModelArtifact.objects.filter(pk=pk).first()
        if model is None:
            raise NotFound(f"No model #{pk}.")
        artifact_kind_check(model, (ModelArtifact.Kind.REWARD,), doing="scoring needs")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = score_text.apply_async(
            args=[model.pk, data.validated_data["prompt"], data.validated_data["response"]]
        )
        return _answer(request, result, wait=settings.PAIRWISE_SCORE_WAIT_SECONDS)


class ScoreResultView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsManager]

    @extend_schema(tags=["models"], summary="A pending score", responses=_answers(401, 403, 502))
    def get(self, request, task_id: str) -> Response:
        # A short wait: the caller is polling.
        return _answer(request, AsyncResult(task_id, app=score_text.app), wait=1.0)
