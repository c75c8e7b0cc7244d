"""Manager pages for comparison reports, under /reports/ (pairwise/urls.py)."""

from django.urls import path

from rewardmodel.report import views as reports

urlpatterns = [
    path("", reports.reports_list, name="reports"),
    path("new/", reports.report_new, name="report-new"),
    path("jobs/<int:pk>/", reports.report_job, name="report-job"),
    path("<int:pk>/", reports.report_detail, name="report-detail"),
    path("<int:pk>/report.html", reports.report_html, name="report-html"),
    path("<int:pk>/report.json", reports.report_json, name="report-json"),
]
