"""Output shapes shared by several API views (each view nests its own Input serializer).

What a labeler is shown is deliberately narrow: the prompt and the two texts in the order shown.
No response ids, model names, gold flag or answer, side order, or anyone else's choice: a labeler
who could see those could game gold items or copy the crowd.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotate.models import Assignment, Choice


class ErrorSerializer(serializers.Serializer):
    """Every error: {"error": "human message", "code": "machine_code"} (+ "fields" on a 400)."""

    error = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(required=False, help_text="Per-field messages for invalid input.")


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
