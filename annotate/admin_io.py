"""Import and export in the admin: a mixin for the Project admin (annotate/admin.py).

    class ProjectAdmin(ProjectIOAdminMixin, ..., admin.ModelAdmin): ...

adds, under /admin/annotate/project/<id>/:
- import/   upload a JSONL(.gz) file in one of the import formats (annotate/importers.py);
            the whole file is validated first and a bad line is shown, nothing written.
- export/   write preference pairs (TRL JSONL, train + eval) or raw judgments (JSONL/CSV) to
            DATA_DIR/exports and offer the files for download.
plus the list actions "Import a file…" and "Export…" (one project at a time) and buttons on the
project page (templates/admin/annotate/project/change_form.html). Import needs the change
permission on the project, export the view permission; downloads are for staff only.
Both run inside the request: fine for files of some 100k lines (see bench/import_speed.py).
"""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import slugify

from .errors import PairwiseError
from .exports import judgments_export_raw, preferences_export
from .importers import FORMATS
from .imports import data_import
from .models import Project, Prompt


def exports_dir() -> Path:
    directory = Path(settings.DATA_DIR) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSONL, one record per line; gzipped is fine.")
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS])
    split = forms.ChoiceField(
        choices=Prompt.Split.choices,
        initial=Prompt.Split.TRAIN,
        help_text="For new prompts whose line names no split.",
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
    """Mixin for the Project ModelAdmin: import/export views, actions and download."""

    def get_urls(self):
        view = self.admin_site.admin_view
        opts = self.model._meta
        prefix = f"{opts.app_label}_{opts.model_name}"
        return [
            path("<int:object_id>/import/", view(self.import_view), name=f"{prefix}_import"),
            path("<int:object_id>/export/", view(self.export_view), name=f"{prefix}_export"),
            path("exports/<str:filename>", view(self.download_view), name=f"{prefix}_download"),
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
                # The raw file object: Django's UploadedFile splits lines on \r as well.
                result = data_import(
                    project=project,
                    source=upload.file,
                    fmt=form.cleaned_data["format"],
                    filename=upload.name,
                    created_by=request.user,
                    default_split=form.cleaned_data["split"],
                )
            except PairwiseError as exc:  # ImportFileError names the bad lines
                error = exc
            else:
                self.message_user(request, f"Imported {upload.name}: {result.summary()}", messages.SUCCESS)
                opts = self.model._meta
                return HttpResponseRedirect(
                    reverse(
                        f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[project.pk]
                    )
                )
        return self._render(
            request,
            "admin/annotate/project/import.html",
            project,
            form=form,
            error=error,
            title=f"Import into {project.name}",
        )

    def export_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        project = self._project(request, object_id, change=False)
        form = ExportForm(request.POST or None)
        files: list[str] = []
        summary = error = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            base = f"{slugify(project.name) or 'project'}-{project.pk}-{stamp}"
            try:
                if data["kind"] == "preferences":
                    result = preferences_export(
                        project=project,
                        out_path=exports_dir() / f"{base}-preferences.jsonl",
                        eval_fraction=data["eval_fraction"],
                        min_agreement=data["min_agreement"],
                        keep_ties=data["keep_ties"],
                        seed=data["seed"],
                    )
                    files = [p.name for p in (result.train_path, result.eval_path) if p is not None]
                    summary = (
                        f"{result.n_train} train + {result.n_eval} eval rows from {result.n_comparisons} "
                        f"comparisons, {result.n_judgments} judgments, {result.n_labelers} labelers "
                        f"(sha256 {result.content_hash[:12]}…)."
                    )
                else:
                    fmt = data["kind"].removeprefix("raw-")
                    out = exports_dir() / f"{base}-judgments.{fmt}"
                    n = judgments_export_raw(project=project, out_path=out, fmt=fmt)
                    files, summary = [out.name], f"{n} judgments, labelers pseudonymized."
            except PairwiseError as exc:
                error = exc
        return self._render(
            request,
            "admin/annotate/project/export.html",
            project,
            form=form,
            files=files,
            summary=summary,
            error=error,
            title=f"Export {project.name}",
        )

    def download_view(self, request: HttpRequest, filename: str) -> FileResponse:
        # Only plain files directly in the exports directory, by their bare name.
        if not request.user.is_staff or Path(filename).name != filename or filename.startswith("."):
            raise Http404
        target = exports_dir() / filename
        if not target.is_file():
            raise Http404
        return FileResponse(target.open("rb"), as_attachment=True, filename=filename)
