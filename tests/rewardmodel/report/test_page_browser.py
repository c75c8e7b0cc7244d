"""The report page in real Chromium: from the home page to the report, every section there and
its server-drawn SVG charts laid out with a size."""

from __future__ import annotations

import pytest

from rewardmodel.report.build import report_build, report_save
from tests.browser_support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_opens_a_report_from_the_home_page(context, server, live_server, roads_rows, manager):
    with server.db():
        data = report_build(
            project=roads_rows.project,
            policies=[roads_rows.base, roads_rows.ppo, roads_rows.grpo],
            n_bootstrap=10,
        )
        report = report_save(project=roads_rows.project, data=data, command="compare", created_by=manager)
    log_in(context, server, manager)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/")
    page.click("#reports-link")
    page.click(f"a[href='/reports/{report.pk}/']")
    page.wait_for_selector("#comparison-report")

    for section in ("scale", "notes", "quality", "ledger", "roads", "charts", "curves", "commands"):
        assert page.locator(f"#{section}").is_visible()
    assert "Scale: models of" in page.text_content("#scale")
    assert page.locator("#notes li").count() == len(data["notes"]) >= 3
    assert page.locator("#quality tbody tr").count() == 3
    charts = page.locator("#comparison-report svg")
    assert charts.count() == 6
    for k in range(charts.count()):
        box = charts.nth(k).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
    assert page.locator("#chart-cost rect").count() == 3  # one bar per policy
    assert "train_policy --algo ppo" in page.text_content("#commands pre")
    assert errors == []
