from __future__ import annotations

import random

import krippendorff
import numpy as np
import pytest

from annotate.models import Judgment
from annotate.quality.exclusion import labeler_exclude
from annotate.quality.report import quality_report_compute
from tests.annotate.quality.sim import simulate
from tests.factories import make_comparison, make_project, make_user

KINDS = {
    "acc1": "accurate",
    "acc2": "accurate",
    "acc3": "accurate",
    "rand": "random",
    "lefty": "left",
    "speedy": "fast",
}
CODE = {"response_a": 0, "response_b": 1, "tie": 2, "both_bad": 3}


@pytest.fixture
def simulated(db):
    users = {name: make_user(name) for name in KINDS}
    project = make_project(
        "Simulated",
        labelers=tuple(users.values()),
        overlap_k=6,
        gold_min_items=10,
        gold_accuracy_threshold=0.7,
    )
    rng = random.Random(11)
    regular = [make_comparison(project) for _ in range(60)]
    gold = []
    truths = {}
    for c in regular:
        truths[c.pk] = rng.choice(["response_a", "response_b"])
    for _ in range(20):
        truth = rng.choice(["response_a", "response_b"])
        c = make_comparison(project, is_gold=True, gold_choice="A" if truth == "response_a" else "B")
        truths[c.pk] = truth
        gold.append(c)
    simulate(regular + gold, {users[n]: KINDS[n] for n in KINDS}, truths)
    return project, users


def _rows(report):
    return {row["username"]: row for row in report["labelers"]}


def _flagged(report, metric):
    return {row["username"] for row in report["labelers"] if metric in row["flags"]}


def test_it_singles_out_each_simulated_labeler_by_the_right_metric(simulated):
    project, _ = simulated
    report = quality_report_compute(project=project, n_bootstrap=200)
    rows = _rows(report)
    assert _flagged(report, "gold") == {"rand", "lefty"}
    assert _flagged(report, "position") == {"lefty"}
    assert _flagged(report, "streak") == {"lefty"}
    assert _flagged(report, "speed") == {"speedy"}
    # The evidence is there, not just the flag.
    assert rows["lefty"]["position"]["left"] == 80 and rows["lefty"]["position"]["right"] == 0
    assert rows["lefty"]["position"]["p_value"] < 1e-20
    assert rows["lefty"]["streak"]["length"] == 80 and rows["lefty"]["streak"]["choice"] == "A"
    assert rows["speedy"]["speed"]["fast"] == 80 and len(rows["speedy"]["speed"]["examples"]) == 5
    assert rows["speedy"]["median_seconds"] < 0.25 * report["totals"]["median_seconds"]
    assert rows["acc1"]["gold"]["accuracy"] >= 0.8 and rows["rand"]["gold"]["ci"][1] < 0.7
    # Agreement with the leave-one-out majority ranks readers above the random and lefty.
    loo = {name: row["loo"]["rate"] for name, row in rows.items()}
    readers = min(loo[n] for n in ("acc1", "acc2", "acc3", "speedy"))
    assert max(loo["rand"], loo["lefty"]) < readers
    assert all(row["judgments"] == 80 and row["gold_judgments"] == 20 for row in rows.values())


def _expected_alpha(project, drop=()):
    """The package on the coders x comparisons matrix built independently from the ORM."""
    judgments = (
        Judgment.objects.filter(comparison__project=project, comparison__is_gold=False)
        .exclude(labeler__username__in=drop)
        .select_related("comparison")
    )
    coders = sorted({j.labeler_id for j in judgments})
    units = sorted({j.comparison_id for j in judgments})
    data = np.full((len(coders), len(units)), np.nan)
    for j in judgments:
        c = j.comparison
        outcome = (
            "response_a"
            if j.winner_id == c.response_a_id
            else "response_b"
            if j.winner_id == c.response_b_id
            else j.choice
        )
        data[coders.index(j.labeler_id), units.index(j.comparison_id)] = CODE[outcome]
    return krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")


def test_it_changes_agreement_exactly_as_expected_when_a_labeler_is_excluded(simulated):
    project, users = simulated
    before = quality_report_compute(project=project, n_bootstrap=0)
    assert before["agreement"]["alpha"] == pytest.approx(_expected_alpha(project), abs=1e-12)
    labeler_exclude(
        project=project, labeler=users["rand"], reason="random answers", by=make_user("m", staff=True)
    )
    after = quality_report_compute(project=project, n_bootstrap=0)
    assert after["agreement"]["alpha"] == pytest.approx(_expected_alpha(project, drop=("rand",)), abs=1e-12)
    assert after["agreement"]["alpha"] > before["agreement"]["alpha"]
    assert after["agreement"]["judgments"] == before["agreement"]["judgments"] - 60
    assert after["totals"]["counted_judgments"] == 5 * 60
    assert _rows(after)["rand"]["excluded"] is True


def test_it_splits_agreement_into_time_windows(simulated):
    project, _ = simulated
    daily = quality_report_compute(project=project, window="day", n_bootstrap=100)
    weekly = quality_report_compute(project=project, window="week", n_bootstrap=100)
    assert daily["params"]["window"] == "day" and weekly["params"]["window"] == "week"
    # Each comparison lands in exactly one window (that of its last judgment).
    assert sum(w["units"] for w in daily["windows"]) == sum(w["units"] for w in weekly["windows"]) == 60
    assert len(weekly["windows"]) <= 2 and len(daily["windows"]) <= 11
    starts = [w["start"] for w in daily["windows"]]
    assert starts == sorted(starts) and all("2025-03-03" <= s[:10] <= "2025-03-13" for s in starts)
    for w in daily["windows"]:
        if w["alpha"] is not None and w["alpha_ci"]:
            assert w["alpha_ci"][0] <= w["alpha"] <= w["alpha_ci"][1]


def test_it_is_deterministic_for_a_seed(simulated):
    project, _ = simulated
    one = quality_report_compute(project=project, n_bootstrap=100, seed=4)
    two = quality_report_compute(project=project, n_bootstrap=100, seed=4)
    assert one["agreement"] == two["agreement"] and one["windows"] == two["windows"]


def test_it_puts_a_comparison_in_the_window_of_its_last_judgment(alice, bob, project):
    from datetime import UTC, datetime

    from annotate.models import Choice, SideOrder

    monday = datetime(2025, 3, 3, 12, tzinfo=UTC)
    plan = [  # (day offset of alice, day offset of bob, bob agrees?)
        (0, 0, True),
        (0, 1, False),
        (1, 1, True),
        (2, 9, True),
    ]
    for n, (da, db, same) in enumerate(plan):
        c = make_comparison(project)
        for user, day, choice in ((alice, da, Choice.A), (bob, db, Choice.A if same else Choice.B)):
            Judgment.objects.create(
                comparison=c,
                labeler=user,
                choice=choice,
                side_order=SideOrder.AB,
                winner_id=c.response_a_id if choice == Choice.A else c.response_b_id,
                client_id=f"w-{n}-{user.pk}",
                created_at=monday.replace(day=3 + day),
            )
    daily = quality_report_compute(project=project, window="day", n_bootstrap=0)["windows"]
    assert [(w["start"][:10], w["units"], w["raw"]) for w in daily] == [
        ("2025-03-03", 1, 1.0),
        ("2025-03-04", 2, 0.5),
        ("2025-03-12", 1, 1.0),
    ]
    weekly = quality_report_compute(project=project, window="week", n_bootstrap=0)["windows"]
    assert [(w["start"][:10], w["units"]) for w in weekly] == [("2025-03-03", 3), ("2025-03-10", 1)]
    auto = quality_report_compute(project=project, n_bootstrap=0)
    assert auto["params"]["window"] == "day"


def test_it_reports_an_empty_project_and_refuses_bad_parameters(project, manager, run_jobs):
    from django.test import Client
    from django.urls import reverse

    from pairwise.errors import PairwiseError

    report = quality_report_compute(project=project, n_bootstrap=10)
    assert report["labelers"] == [] and report["windows"] == [] and report["agreement"]["alpha"] is None
    client = Client()
    client.force_login(manager)
    with run_jobs():  # the recompute runs as a job
        client.post(reverse("quality:recompute", args=[project.pk]))
    page = client.get(reverse("quality:project", args=[project.pk]))
    assert page.status_code == 200 and b"No judgments yet" in page.content
    with pytest.raises(PairwiseError, match="window must be one of"):
        quality_report_compute(project=project, window="month")
    with run_jobs():
        response = client.post(reverse("quality:recompute", args=[project.pk]), {"window": "month"})
    assert b"window must be one of" in client.get(response["Location"]).content  # the failed job's page
