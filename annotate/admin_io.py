"""Import and export in the admin: a mixin for the Project admin (annotate/admin.py).

    class ProjectAdmin(ProjectIOAdminMixin, ..., admin.ModelAdmin): ...

adds, under /admin/annotate/project/<id>/:
- import/   upload a JSONL(.gz) file in one of the import formats (annotate/importing/parse.py); it is
            saved to DATA_DIR/uploads and imported by a worker, which validates the whole file
            first: a bad file writes nothing and its job fails with the bad lines.
- export/   write preference pairs (TRL JSONL, train + eval) or raw judgments (JSONL/CSV) into the
            export store (annotate.exporting.store), on a worker; the job's page links the files,
            and the export page lists the project's earlier exports. Both link the store's one
            download path (managers only).
plus the list actions "Import a file…" and "Export…" (one project at a time) and buttons on the
project page (templates/admin/annotate/project/change_form.html). Import and export need the
change permission on the project (what the managers group holds: an export carries every
labeler's judgments, and its job page and downloads are for managers).
Both run as background jobs (annotate.data_jobs): the form creates a DataJob, sends it to a
`default` worker once the request commits, and redirects to the job's page (/data-jobs/<id>/).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from annotate.data_jobs import data_job_create, upload_store
from annotate.exporting.store import export_store_list
from annotate.forms import PairsFields
from annotate.importing.parse import FORMATS
from annotate.models import Project, Prompt
from annotate.pair_strategies import STRATEGIES
from pairwise.errors import PairwiseError
from rewardmodel.models import DataJob


class ImportForm(PairsFields):
    file = forms.FileField(help_text="JSONL, one record per line; gzipped is fine.")
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS])
    split = forms.ChoiceField(
        choices=Prompt.Split.choices,
        initial=Prompt.Split.TRAIN,
        help_text="For new prompts whose line names no split.",
    )
    field_order = ["file", "format", "split", "pairs", "per_prompt", "models", "seed"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pairs"].required = False
        self.fields["pairs"].choices = [("", "No: the file's pairs only (trl, hh)"), *STRATEGIES.items()]
        self.fields["pairs"].help_text = (
            "For files of responses: make comparisons from them in the same job. Without pairs, a "
            "responses file gives labelers nothing to judge."
        )


class ExportForm(forms.Form):
    KINDS = [
        ("preferences", "Preference pairs for TRL (JSONL: prompt / chosen / rejected)"),
        ("raw-jsonl", "Raw judgments, labelers pseudonymized (JSONL)"),
        ("raw-csv", "Raw judgments, labelers pseudonymized (CSV)"),
    ]
    kind = forms.ChoiceField(choices=KINDS, initial="preferences", widget=forms.RadioSelect)
    eval_fraction = forms.FloatField(
        min_value=0, max_value=0.9, initial=0.1, help_text="Share of prompts held out for eval."
    )
    min_agreement = forms.FloatField(
        min_value=0, max_value=1, initial=0.0, help_text="Minimum share of votes for the winner."
    )
    keep_ties = forms.BooleanField(
        required=False, help_text="Emit ties as two mirrored pairs marked tie=true."
    )
    seed = forms.IntegerField(initial=0)


class ProjectIOAdminMixin:
    """Mixin for the Project ModelAdmin: import and export views and actions."""

    def get_urls(self):
        view = self.admin_site.admin_view
        opts = self.model._meta
        prefix = f"{opts.app_label}_{opts.model_name}"
        return [
            path("<int:object_id>/import/", view(self.import_view), name=f"{prefix}_import"),
            path("<int:object_id>/export/", view(self.export_view), name=f"{prefix}_export"),
            *super().get_urls(),
        ]

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        for name in ("import_file", "export_data"):
            if name not in actions:
                action = self.get_action(name)
                if action is not None:
                    actions[name] = action
        return actions

    # --- actions: one project at a time, so they open that project's page ---

    def _single(self, request: HttpRequest, queryset: QuerySet[Project], what: str) -> Project | None:
        if queryset.count() != 1:
            self.message_user(request, f"Select exactly one project to {what}.", messages.WARNING)
            return None
        return queryset.get()

    @admin.action(description="Import a file…")
    def import_file(self, request: HttpRequest, queryset: QuerySet[Project]):
        project = self._single(request, queryset, "import into")
        if project is not None:
            return HttpResponseRedirect(self._url("import", project))

    @admin.action(description="Export preferences or judgments…")
    def export_data(self, request: HttpRequest, queryset: QuerySet[Project]):
        project = self._single(request, queryset, "export")
        if project is not None:
            return HttpResponseRedirect(self._url("export", project))

    def _url(self, name: str, project: Project) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}", args=[project.pk])

    def _project(self, request: HttpRequest, object_id: int, *, change: bool) -> Project:
        project = get_object_or_404(Project, pk=object_id)
        allowed = (
            self.has_change_permission(request, project)
            if change
            else self.has_view_permission(request, project)
        )
        if not allowed:
            raise PermissionDenied
        return project

    def _render(self, request: HttpRequest, template: str, project: Project, **context) -> HttpResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": project,
                "project": project,
                **context,
            },
        )

    # --- views ---

    def import_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        project = self._project(request, object_id, change=True)
        form = ImportForm(request.POST or None, request.FILES or None)
        error = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                stored = upload_store(upload=upload)  # refused past PAIRWISE_IMPORT_MAX_FILE_BYTES
            except PairwiseError as exc:
                error = exc
            else:
                job = data_job_create(
                    project=project,
                    kind=DataJob.Kind.IMPORT,
                    config={k: form.cleaned_data[k] for k in ("format", "split")}
                    | form.pairs_config()
                    | {"filename": upload.name},
                    user=request.user,
                    upload_path=stored,
                )
                return HttpResponseRedirect(reverse("data-job", args=[job.pk]))
        return self._render(
            request,
            "admin/annotate/project/import.html",
            project,
            form=form,
            error=error,
            title=f"Import into {project.name}",
        )

    def export_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        project = self._project(request, object_id, change=True)
        form = ExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            job = data_job_create(
                project=project, kind=DataJob.Kind.EXPORT, config=form.cleaned_data, user=request.user
            )
            return HttpResponseRedirect(reverse("data-job", args=[job.pk]))
        return self._render(
            request,
            "admin/annotate/project/export.html",
            project,
            form=form,
            exports=export_store_list(project=project),
            title=f"Export {project.name}",
        )
