"""Output shapes shared by several API views (each view nests its own Input serializer).

What a labeler is shown is deliberately narrow: the prompt and the two texts in the order shown.
No response ids, model names, gold flag or answer, side order, or anyone else's choice: a labeler
who could see those could game gold items or copy the crowd.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotate import services
from annotate.models import Assignment, Choice
from pairwise.errors import InvalidInput


class ErrorSerializer(serializers.Serializer):
    """Every error: {"error": "human message", "code": "machine_code"} (+ "fields" on a 400)."""

    error = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(required=False, help_text="Per-field messages for invalid input.")


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false, as the schema's `boolean` says. DRF's BooleanField also takes 1, 0,
    "1", "yes", "on" and the like, so a client that sent 0 meaning false, or a typo, would be read
    without a word; here anything but true or false (or null, where allowed) is a 400."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data: Any) -> bool:
        if data is not True and data is not False:
            self.fail("invalid")  # raises
        return data


def client_id_field(**kwargs: Any) -> serializers.RegexField:
    """A judgment's client_id as the schema states it (the pattern is services.CLIENT_ID_PATTERN)."""
    # No trimming: " x" is refused, as the pattern says, not silently turned into "x".
    return serializers.RegexField(services.CLIENT_ID_PATTERN, max_length=64, trim_whitespace=False, **kwargs)


class JudgmentRequestSerializer(serializers.Serializer):
    """A judgment as a labeler submits it. The fields state the request for the schema; the
    checking is services.judgment_input_from, the same the ranking screen uses, so the two answer
    the same 400 for the same body. validated_data is a services.JudgmentInput."""

    class Meta:
        ref_name = "JudgmentRequest"

    choice = serializers.ChoiceField(choices=Choice.choices, help_text="As shown: A is the left side.")
    strength = serializers.IntegerField(
        min_value=1, max_value=3, required=False, allow_null=True, help_text="1 slightly, 2 clearly, 3 much."
    )
    rationale = serializers.CharField(
        max_length=services.RATIONALE_MAX_CHARS, required=False, allow_blank=True, trim_whitespace=False
    )
    seconds_on_task = serializers.FloatField(
        min_value=0, max_value=services.SECONDS_ON_TASK_MAX, required=False, allow_null=True
    )
    client_id = client_id_field(
        help_text="A unique id the client makes (e.g. a UUID); resubmitting it is safe."
    )

    def to_internal_value(self, data: Any) -> services.JudgmentInput:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        try:
            return services.judgment_input_from(data)
        except InvalidInput as exc:
            raise serializers.ValidationError({exc.field: [exc.detail]}) from None


class MessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField()


class PromptSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)


class ShownResponseSerializer(serializers.Serializer):
    text = serializers.CharField()


class AssignmentSerializer(serializers.Serializer):
    """One leased comparison as the labeler sees it: A is the left side."""

    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    state = serializers.ChoiceField(choices=Assignment.State.choices)
    leased_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    prompt = PromptSerializer(source="comparison.prompt")
    response_a = serializers.SerializerMethodField()
    response_b = serializers.SerializerMethodField()

    @extend_schema_field(ShownResponseSerializer)
    def get_response_a(self, assignment: Assignment) -> dict:
        return {"text": assignment.shown()[0].text}

    @extend_schema_field(ShownResponseSerializer)
    def get_response_b(self, assignment: Assignment) -> dict:
        return {"text": assignment.shown()[1].text}


class JudgmentSerializer(serializers.Serializer):
    """The labeler's own judgment, as they gave it (A = the left side they saw)."""

    client_id = serializers.CharField()
    assignment = serializers.IntegerField(source="assignment_id", allow_null=True)
    choice = serializers.ChoiceField(choices=Choice.choices)
    strength = serializers.IntegerField(allow_null=True)
    rationale = serializers.CharField(allow_blank=True)
    seconds_on_task = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()
