"""REST API: one APIView per operation; validation in the nested InputSerializer, rules in
annotate.services (writes) and annotate.selectors (reads). Errors are JSON via annotate.api.errors.

A labeler only ever reaches their own projects (others answer 404, as if they did not exist) and
their own assignments and judgments, and only while they are a member not excluded from the
project (annotate.services.labeler_access_check). Manager endpoints need annotate.permissions.is_manager
(403 otherwise, the staff flag alone included).
Nested serializers carry `Meta.ref_name`: it names their component in the OpenAPI schema (every
nested class is called InputSerializer/OutputSerializer, which would collide).
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotate import selectors, services
from annotate.api.authentication import TokenAuthentication
from annotate.api.serializers import (
    AssignmentSerializer,
    ErrorSerializer,
    JudgmentRequestSerializer,
    JudgmentSerializer,
    StrictBooleanField,
    client_id_field,
)
from annotate.exporting.store import export_store_open, export_store_preferences
from annotate.lockout import lockout_remaining, retry_after_seconds, wait_text
from annotate.permissions import IsManager
from pairwise.errors import InvalidInput, PairwiseError

_ERROR_TEXT = {
    400: "Invalid input; `error` names the field.",
    401: "Not logged in (no session, no valid token).",
    403: "Not allowed (managers only, or excluded from the project).",
    404: "No such object for you.",
    409: "Conflicts with the current state (e.g. lease_expired, already_judged).",
    429: "Too many tries: locked out after failed logins (locked_out), or throttled (throttled).",
}


def _error(code: int, description: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description or _ERROR_TEXT[code])


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: _error(code) for code in codes}


# A flag in a query string: the schema's boolean (true/false, in any case, as clients write it) or
# the README's 1/0. Anything else is refused rather than read as false.
_QUERY_FLAG = {"true": True, "1": True, "false": False, "0": False}


def _query_flag(request: Request, name: str) -> bool:
    """A boolean query parameter; absent is false. Raises InvalidInput (400) naming it."""
    value = request.query_params.get(name)
    if value is None:
        return False
    if value.lower() not in _QUERY_FLAG:
        raise InvalidInput(name, "must be true or false (or 1 or 0).")
    return _QUERY_FLAG[value.lower()]


class LabelerApi(APIView):
    # Token first: an anonymous call answers 401 with `WWW-Authenticate: Token`, not a bare 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    # Bodies are JSON only, as the schema says: in a form, "" and "null" are strings, not a
    # missing or null value, and the same judgment would be read two ways.
    parser_classes = [JSONParser]


class ManagerApi(LabelerApi):
    permission_classes = [IsAuthenticated, IsManager]


# --- auth ----------------------------------------------------------------------------------------


_BAD_CREDENTIALS = "Unable to log in with that username and password."


class TokenApi(APIView):
    """Trade a username and password for the user's API token (created on first use).

    Guarded like the login form: django-axes locks a username + address out after
    AXES_FAILURE_LIMIT wrong passwords (429, code "locked_out"), and the "login" throttle caps
    tries per address (429, code "throttled"); see settings.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenRequest"

        # Exactly as typed: a trimmed "  " would be a blank the schema's minLength lets through.
        username = serializers.CharField(min_length=1, max_length=150, trim_whitespace=False)
        password = serializers.CharField(min_length=1, max_length=256, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Token"

        token = serializers.CharField()
        username = serializers.CharField()

    @extend_schema(
        tags=["auth"],
        summary="Get an API token",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Invalid input (`invalid`, with `fields`), or a wrong username or password "
                "(`bad_credentials`).",
                examples=[
                    OpenApiExample(
                        "invalid",
                        value={
                            "error": "password: This field is required.",
                            "code": "invalid",
                            "fields": {"password": ["This field is required."]},
                        },
                    ),
                    OpenApiExample(
                        "bad_credentials", value={"error": _BAD_CREDENTIALS, "code": "bad_credentials"}
                    ),
                ],
            ),
            **_errors(429),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The request goes along so that django-axes counts the try and can refuse it.
        user = authenticate(request, **data.validated_data)
        if user is None and getattr(request, "axes_locked_out", False):
            wait = lockout_remaining(request, data.validated_data)
            return Response(
                {"error": f"Too many failed logins; try again in {wait_text(wait)}.", "code": "locked_out"},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": retry_after_seconds(wait)},
            )
        if user is None:
            raise PairwiseError(_BAD_CREDENTIALS, code="bad_credentials")
        token, _ = Token.objects.get_or_create(user=user)
        return Response(self.OutputSerializer({"token": token.key, "username": user.get_username()}).data)


# --- labeler -------------------------------------------------------------------------------------


class ProjectListApi(LabelerApi):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectWithMyProgress"

        id = serializers.IntegerField()
        name = serializers.CharField()
        guidelines = serializers.CharField(help_text="Markdown.")
        overlap_k = serializers.IntegerField()
        lease_seconds = serializers.IntegerField()
        require_rationale_for_tie = serializers.BooleanField()
        comparisons_total = serializers.IntegerField(help_text="Gold items excluded.")
        comparisons_open = serializers.IntegerField(help_text="Still short of overlap_k judgments.")
        my_judgments = serializers.IntegerField()
        my_judgments_today = serializers.IntegerField()

    @extend_schema(
        tags=["labeling"],
        summary="My projects with my progress",
        responses={200: OutputSerializer(many=True), **_errors(401)},
    )
    def get(self, request: Request) -> Response:
        projects = selectors.projects_for_labeler(labeler=request.user)
        return Response(self.OutputSerializer(projects, many=True).data)


class NextComparisonApi(LabelerApi):
    """Lease the next comparison, or get back the one already leased (safe to call again).

    Always 200: `assignment` is null when nothing is left for this labeler right now.
    """

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "NextComparison"

        assignment = AssignmentSerializer(allow_null=True)
        message = serializers.CharField(allow_null=True)

    @extend_schema(
        tags=["labeling"],
        summary="Next comparison (or my current lease)",
        responses={200: OutputSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = services.project_for_labeler(labeler=request.user, project_id=project_id)
        assignment = services.comparison_assign_next(labeler=request.user, project=project)
        message = None if assignment is not None else "Nothing left for you in this project right now."
        return Response(self.OutputSerializer({"assignment": assignment, "message": message}).data)


class JudgmentCreateApi(LabelerApi):
    """Judge a leased comparison. Idempotent on client_id: a retry answers 200 with the same body.

    With `?next=1` the answer also carries `next`, what GET .../next/ would answer for the
    assignment's project, so a labeler loop needs one round trip per judgment.
    """

    # Checked by services.judgment_input_from, as the ranking screen's judgments are.
    InputSerializer = JudgmentRequestSerializer

    class OutputSerializer(JudgmentSerializer):
        class Meta:
            ref_name = "JudgmentWithNext"

        next = NextComparisonApi.OutputSerializer(
            required=False, help_text="Only with ?next=1: the next comparison (or my current lease)."
        )

    @extend_schema(
        tags=["labeling"],
        summary="Submit a judgment",
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "next",
                OpenApiTypes.BOOL,
                OpenApiParameter.QUERY,
                description="Also lease the next comparison and answer it in `next` (as GET .../next/ "
                "would), saving a round trip. Asked after the judgment is stored: an error there "
                "leaves `next.assignment` null with the reason in `next.message`. `true` or `1`; "
                "`false`, `0` or absent: no `next`; any other value is a 400.",
            )
        ],
        responses={
            201: OpenApiResponse(OutputSerializer, description="Stored."),
            200: OpenApiResponse(OutputSerializer, description="This client_id was already stored."),
            **_errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with_next = _query_flag(request, "next")  # checked before the judgment is stored
        judgment, created = services.judgment_record(
            labeler=request.user, assignment_id=assignment_id, data=data.validated_data
        )
        body = JudgmentSerializer(judgment).data
        if with_next:
            body["next"] = self._next(request, assignment_id)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @staticmethod
    def _next(request: Request, assignment_id: int) -> dict:
        try:
            project = services.project_of_assignment(labeler=request.user, assignment_id=assignment_id)
            assignment = services.comparison_assign_next(labeler=request.user, project=project)
        except PairwiseError as exc:  # the judgment is stored; say why there is no next one
            return {"assignment": None, "message": exc.message}
        message = None if assignment is not None else "Nothing left for you in this project right now."
        return NextComparisonApi.OutputSerializer({"assignment": assignment, "message": message}).data


class AssignmentSkipApi(LabelerApi):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SkipRequest"

        reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Skipped"

        id = serializers.IntegerField()
        state = serializers.CharField()
        skip_reason = serializers.CharField(allow_blank=True)

    @extend_schema(
        tags=["labeling"],
        summary="Skip a leased comparison",
        request=InputSerializer,
        responses={200: OutputSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = services.assignment_skip(
            labeler=request.user, assignment_id=assignment_id, reason=data.validated_data["reason"]
        )
        return Response(self.OutputSerializer(assignment).data)


class JudgmentUndoApi(LabelerApi):
    """Take back a judgment while its lease lasts; answers the assignment to judge again."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "UndoRequest"

        client_id = client_id_field()

    @extend_schema(
        tags=["labeling"],
        summary="Undo my judgment",
        request=InputSerializer,
        responses={200: AssignmentSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = services.judgment_undo(labeler=request.user, client_id=data.validated_data["client_id"])
        assignment = services.assignment_for_labeler(labeler=request.user, assignment_id=assignment.pk)
        return Response(AssignmentSerializer(assignment).data)


class AssignmentDetailApi(LabelerApi):
    class OutputSerializer(AssignmentSerializer):
        class Meta:
            ref_name = "AssignmentDetail"

        judgment = serializers.SerializerMethodField(help_text="My judgment, once submitted.")

        @extend_schema_field(JudgmentSerializer(allow_null=True))
        def get_judgment(self, assignment) -> dict | None:
            judgment = self.context.get("judgment")
            return JudgmentSerializer(judgment).data if judgment is not None else None

    @extend_schema(
        tags=["labeling"],
        summary="One of my assignments",
        responses={200: OutputSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request: Request, assignment_id: int) -> Response:
        assignment = services.assignment_for_labeler(labeler=request.user, assignment_id=assignment_id)
        judgment = selectors.judgment_for_assignment(assignment=assignment)
        return Response(self.OutputSerializer(assignment, context={"judgment": judgment}).data)


class MyStatsApi(LabelerApi):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MyStats"

        project = serializers.IntegerField()
        judged_today = serializers.IntegerField()
        judged_total = serializers.IntegerField()
        skipped_total = serializers.IntegerField()
        remaining_for_me = serializers.IntegerField()
        project_remaining = serializers.IntegerField()

    @extend_schema(
        tags=["labeling"],
        summary="My stats in a project",
        responses={200: OutputSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = services.project_for_labeler(labeler=request.user, project_id=project_id)
        stats = services.labeler_stats(labeler=request.user, project=project)
        return Response(self.OutputSerializer({"project": project.pk, **vars(stats)}).data)


# --- managers ------------------------------------------------------------------------------------


class ProjectProgressApi(ManagerApi):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectProgress"

        project_id = serializers.IntegerField()
        overlap_k = serializers.IntegerField()
        comparisons_total = serializers.IntegerField(help_text="Gold items excluded.")
        comparisons_complete = serializers.IntegerField(help_text="Reached overlap_k judgments.")
        comparisons_in_progress = serializers.IntegerField(help_text="Judged or leased, not complete.")
        gold_total = serializers.IntegerField()
        judgments_human = serializers.IntegerField()
        judgments_external = serializers.IntegerField(help_text="Imported preference data.")
        judgments_simulated = serializers.IntegerField(
            help_text="By simulated labelers (manage.py simulate_labelers); not in judgments_human."
        )
        judgments_last_hour = serializers.IntegerField(help_text="Human judgments per hour, last hour.")
        live_leases = serializers.IntegerField()
        active_labelers = serializers.IntegerField(
            help_text="Holding a lease now or judged in the last hour."
        )

    @extend_schema(
        tags=["managers"],
        summary="Project progress",
        responses={200: OutputSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id)
        return Response(self.OutputSerializer(selectors.project_progress(project=project)).data)


class ProjectExportApi(ManagerApi):
    """Export the project's preferences as TRL pairs (prompt/chosen/rejected, majority vote; gold
    items and excluded labelers left out) into the server's data directory, as JSONL.

    The answer says what went in and where to download the files. For a `datasets` directory use
    `manage.py export_preferences --format dataset`.

    Every call writes a new folder into the export store, so calls are throttled per manager
    (scope "export", settings; 429 with Retry-After past the rate).
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "export"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ExportRequest"

        eval_fraction = serializers.FloatField(
            min_value=0, max_value=0.99, default=0.0, help_text="Share of prompts held out for eval."
        )
        min_agreement = serializers.FloatField(
            min_value=0, max_value=1, default=0.0, help_text="Minimum share of votes for the winner."
        )
        keep_ties = StrictBooleanField(default=False, help_text="Ties as two mirrored rows (tie=true).")
        seed = serializers.IntegerField(default=0, help_text="Seed of the eval split.")
        conversational = StrictBooleanField(
            allow_null=True, default=None, help_text="Force the chat form (null: only if a prompt is a chat)."
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Export"

        name = serializers.CharField()
        n_train = serializers.IntegerField()
        n_eval = serializers.IntegerField()
        n_comparisons = serializers.IntegerField()
        n_judgments = serializers.IntegerField()
        n_labelers = serializers.IntegerField()
        conversational = serializers.BooleanField()
        content_hash = serializers.CharField(help_text="sha256 over the exported rows.")
        judgment_ids_hash = serializers.CharField(help_text="sha256 over the ids of the judgments used.")
        filters = serializers.DictField()
        files = serializers.DictField(child=serializers.CharField(), help_text="Download URLs: train, eval.")

    @extend_schema(
        tags=["managers"],
        summary="Export preference pairs",
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            **_errors(400, 401, 403, 404),
            429: _error(429, "Throttled (throttled): too many exports; Retry-After says when to try again."),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stored, result = export_store_preferences(project=project, **data.validated_data)
        named = {"train": result.train_path, "eval": result.eval_path}
        files = {
            split: request.build_absolute_uri(stored.url(path.name))
            for split, path in named.items()
            if path is not None
        }
        counts = ("n_train", "n_eval", "n_comparisons", "n_judgments", "n_labelers")
        body = {key: getattr(result, key) for key in counts}
        body |= {
            "name": stored.export_id,
            "conversational": result.conversational,
            "content_hash": result.content_hash,
            "judgment_ids_hash": result.judgment_ids_hash,
            "filters": result.filters,
            "files": files,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class ExportFileApi(ManagerApi):
    """The one download path of the export store (annotate.exporting.store): the files of the API's,
    the admin's and the command's exports. The admin's export job page links here."""

    @extend_schema(
        tags=["managers"],
        summary="Download an export file (JSON lines or CSV)",
        responses={
            (200, "application/jsonl"): OpenApiResponse(
                OpenApiTypes.BINARY, description="One pair (or judgment) per line."
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="Raw judgments."),
            **_errors(401, 403, 404),
        },
    )
    def get(self, request: Request, project_id: int, name: str, filename: str) -> FileResponse:
        project = selectors.project_get(project_id=project_id)
        fh = export_store_open(project_id=project.pk, export_id=name, filename=filename)
        return FileResponse(
            fh,
            as_attachment=True,
            filename=f"{project.name}-{name}-{filename}",
            content_type="text/csv" if filename.endswith(".csv") else "application/jsonl",
        )
