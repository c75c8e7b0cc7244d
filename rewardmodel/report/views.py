"""Manager pages for comparison reports (manage.py compare): the list, one report, its files.

Thin: the report is built by rewardmodel.report.build and drawn by rewardmodel.report.html; the page
redraws it from the stored data (cheap), the downloads are the stored HTML file and the JSON.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from annotate.permissions import manager_required
from rewardmodel.models import ComparisonReport
from rewardmodel.report.html import report_context


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
