from __future__ import annotations

import json
import random
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotate.models import QualitySnapshot
from tests.annotate.quality.sim import simulate
from tests.factories import make_comparison


@pytest.fixture
def judged(project, alice, bob, carol):
    rng = random.Random(9)
    comparisons = [make_comparison(project) for _ in range(30)]
    truths = {c.pk: rng.choice(["response_a", "response_b"]) for c in comparisons}
    simulate(comparisons, {alice: "accurate", bob: "accurate", carol: "left"}, truths)
    return comparisons


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_prints_the_quality_report_as_a_table_and_as_json(project, judged):
    table = _run("quality_report", "--project", project.name, "--bootstrap", "50")
    assert "Krippendorff's alpha" in table
    carol_line = next(line for line in table.splitlines() if line.startswith("carol"))
    assert "position" in carol_line and "streak" in carol_line and "30xA" in carol_line
    report = json.loads(_run("quality_report", "--project", project.name, "--json", "--window", "week"))
    assert report["params"]["window"] == "week"
    assert {row["username"] for row in report["labelers"]} == {"alice", "bob", "carol"}
    assert report["agreement"]["units"] == 30
    assert not QualitySnapshot.objects.exists()
    _run("quality_report", "--project", project.name, "--store", "--bootstrap", "0")
    assert QualitySnapshot.objects.get().kind == "quality"


def test_it_prints_the_leaderboard(project, judged):
    table = _run("leaderboard", "--project", project.name, "--bootstrap", "20")
    assert "model-a" in table and "model-b" in table and "Win rate of row over column" in table
    board = json.loads(
        _run("leaderboard", "--project", project.name, "--json", "--sources", "model-a,model-b")
    )
    assert sorted(row["source"] for row in board["sources"]) == ["model-a", "model-b"]
    assert board["matrix"]["games"][0][1] == 90


def test_it_names_the_problem_with_bad_arguments(project, judged):
    with pytest.raises(CommandError, match="No project named 'Nope'"):
        _run("quality_report", "--project", "Nope")
    with pytest.raises(CommandError, match="No compared responses from ghost"):
        _run("leaderboard", "--project", project.name, "--sources", "model-a,ghost")
