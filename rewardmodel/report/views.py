"""Manager pages for comparison reports (manage.py compare): the list, one report, its files, and
a new report made on a worker (/reports/new/, then its job's page, live).

Thin: the report is built by rewardmodel.report.build and drawn by rewardmodel.report.html; the page
redraws it from the stored data (cheap), the downloads are the stored HTML file and the JSON.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from annotate.models import Project
from annotate.permissions import manager_required
from pairwise.errors import PairwiseError
from rewardmodel.jobs.views import job_status
from rewardmodel.models import GENERATIVE_KINDS, ComparisonReport, ModelArtifact, ReportJob
from rewardmodel.report.html import report_context
from rewardmodel.report.jobs import report_job_create


class ReportForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    baseline = forms.ModelChoiceField(
        queryset=ModelArtifact.objects.filter(kind__in=GENERATIVE_KINDS),
        help_text="What the others are measured against: usually the base model.",
    )
    policies = forms.ModelMultipleChoiceField(
        queryset=ModelArtifact.objects.filter(kind__in=GENERATIVE_KINDS),
        widget=forms.CheckboxSelectMultiple,
        help_text="The policies to compare with it.",
    )
    reward_model = forms.ModelChoiceField(
        queryset=ModelArtifact.objects.filter(kind=ModelArtifact.Kind.REWARD),
        required=False,
        help_text="Scores every policy's answers (empty: the first reward model in the policies' lineages).",
    )
    heldout = forms.IntegerField(
        min_value=1, required=False, help_text="Measure on the first N held-out prompts (empty: all)."
    )
    seed = forms.IntegerField(initial=0)
    max_new_tokens = forms.IntegerField(
        min_value=1, max_value=4096, initial=96, help_text="Tokens per answer."
    )
    bootstrap = forms.IntegerField(
        min_value=10, max_value=10_000, initial=200, help_text="Bootstrap draws for the arena's intervals."
    )


@manager_required
def report_new(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: the report is queued for a `default` worker; its job's page follows it."""
    form = ReportForm(request.POST or None, initial={"project": request.GET.get("project")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # In the order they were given (the report's columns follow it), the baseline first.
        given = request.POST.getlist("policies")
        others = sorted(
            (p for p in data["policies"] if p != data["baseline"]), key=lambda p: given.index(str(p.pk))
        )
        try:
            job = report_job_create(
                project=data["project"],
                policies=[data["baseline"], *others],
                reward_model=data["reward_model"],
                heldout=data["heldout"],
                seed=data["seed"],
                max_new_tokens=data["max_new_tokens"],
                n_bootstrap=data["bootstrap"],
                user=request.user,
            )
        except PairwiseError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("report-job", pk=job.pk)
    return render(request, "reports/new.html", {"form": form})


@manager_required
def report_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ReportJob.objects.select_related("project", "report"), pk=pk)
    return render(request, "reports/job.html", {"job": job, "status": job_status(job)})


@manager_required
def reports_list(request: HttpRequest) -> HttpResponse:
    reports = ComparisonReport.objects.select_related("project", "created_by").defer("data", "html")[:200]
    return render(request, "reports/list.html", {"reports": reports})


@manager_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(ComparisonReport.objects.select_related("project", "created_by"), pk=pk)
    return render(request, "reports/detail.html", {**report_context(report.data), "report": report})


@manager_required
def report_html(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(ComparisonReport.objects.only("html"), pk=pk)
    response = HttpResponse(report.html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{pk}.html"'
    return response


@manager_required
def report_json(request: HttpRequest, pk: int) -> JsonResponse:
    report = get_object_or_404(ComparisonReport.objects.only("data"), pk=pk)
    response = JsonResponse(report.data)
    response["Content-Disposition"] = f'attachment; filename="report-{pk}.json"'
    return response
