"""The report in the app: /reports/ and /reports/<id>/ for managers only, reachable from the home
page. The report is built from rows (the models have no files, so nothing is measured and the
quality table says why)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rewardmodel.report.build import report_build, report_save


@pytest.fixture
def report(roads_rows, manager):
    data = report_build(
        project=roads_rows.project,
        policies=[roads_rows.base, roads_rows.ppo, roads_rows.grpo],
        n_bootstrap=10,
        compare_command="python manage.py compare --project Roads --policies base,ppo-1,grpo-1",
    )
    return report_save(project=roads_rows.project, data=data, command="compare ...", created_by=manager)


def _urls(report) -> list[str]:
    return [
        reverse("reports"),
        reverse("report-detail", args=[report.pk]),
        reverse("report-html", args=[report.pk]),
        reverse("report-json", args=[report.pk]),
    ]


def test_anonymous_users_are_sent_to_log_in_and_labelers_are_refused(client, report, roads_rows):
    for url in _urls(report):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    client.force_login(roads_rows.people.alice)
    for url in _urls(report):
        assert client.get(url).status_code == 403


def test_a_manager_reads_the_report_and_downloads_its_files(client, report, manager):
    client.force_login(manager)
    listing = client.get(reverse("reports")).content.decode()
    assert reverse("report-detail", args=[report.pk]) in listing and "base, ppo-1, grpo-1" in listing

    page = client.get(reverse("report-detail", args=[report.pk])).content.decode()
    for section in ("scale", "notes", "quality", "ledger", "roads", "runs", "charts", "curves", "commands"):
        assert f'id="{section}"' in page
    assert page.count("<svg") == 2 + 4  # cost and hours; four run curves (nothing measured: no scatter)
    assert "not measured: Model &#x27;base&#x27; has no files" in page or "has no files" in page
    assert "may be gaming its reward model" in page and "$7.42" in page  # ppo-1's total, by hand

    download = client.get(reverse("report-html", args=[report.pk]))
    assert download["Content-Disposition"] == f'attachment; filename="report-{report.pk}.html"'
    assert download.content.decode() == report.html and report.html.startswith("<!doctype html>")
    assert client.get(reverse("report-json", args=[report.pk])).json() == report.data
    assert client.get(reverse("report-detail", args=[report.pk + 1])).status_code == 404


def test_the_home_page_links_managers_to_the_reports(client, manager, alice):
    client.force_login(manager)
    assert 'id="reports-link"' in client.get(reverse("home")).content.decode()
    client.force_login(alice)
    assert 'id="reports-link"' not in client.get(reverse("home")).content.decode()
