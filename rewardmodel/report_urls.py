"""Manager pages for comparison reports, under /reports/ (pairwise/urls.py)."""

from django.urls import path

from . import views_reports

urlpatterns = [
    path("", views_reports.reports_list, name="reports"),
    path("<int:pk>/", views_reports.report_detail, name="report-detail"),
    path("<int:pk>/report.html", views_reports.report_html, name="report-html"),
    path("<int:pk>/report.json", views_reports.report_json, name="report-json"),
]
