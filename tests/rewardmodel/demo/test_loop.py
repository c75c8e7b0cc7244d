"""The whole demo loop on tiny models: every step succeeds, the report has every section, and the
same seed gives the same numbers. And (slow) `demo_loop --quick` on the real SmolLM2: the CI smoke test."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from annotate.importing.write import data_import
from annotate.pair_strategies import comparisons_pair_all
from rewardmodel.demo.loop import DEMO_PROJECT, STEPS, demo_loop_create, demo_loop_execute
from rewardmodel.models import DemoLoop, JobStatus, ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from tests.factories import make_project

DEMO_DIR = Path(__file__).resolve().parents[3] / "annotate" / "demo"


def _demo_project(name: str):
    """What demo_setup makes, under another name (two loops in one database)."""
    project = make_project(name, overlap_k=2)
    for file in ("responses.jsonl", "arithmetic.jsonl"):
        data_import(project=project, source=DEMO_DIR / file, fmt="responses", filename=file)
    comparisons_pair_all(project=project)
    return project


def _numbers(loop: DemoLoop) -> dict[str, dict]:
    """Each step's measured numbers (not its wall time, nor the report's size)."""
    return {s["name"]: s.get("numbers") for s in loop.steps if s["name"] != "report"}


def _report_numbers(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


REPORT_SECTIONS = ("policies", "arena", "roads", "curves", "scale", "notes", "commands")
# Per policy: held-out accuracy (rules), reward-model score (rm), what it cost (ledger).
POLICY_NUMBERS = (("rules", "accuracy"), ("rm", "mean_score"), ("rm", "kl"), ("ledger", "total_hours"))


def _has_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, dict):
        return any(_has_number(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_number(v) for v in value)
    return False


def _assert_every_section_has_numbers(report: dict, *, arena_games: bool = True) -> None:
    missing = [s for s in REPORT_SECTIONS if s not in report]
    assert not missing, f"sections missing: {missing}"
    numeric = [s for s in REPORT_SECTIONS if s not in ("notes", "commands")]
    if not arena_games:  # tiny policies may all answer alike: no arena pairs, no ratings
        numeric.remove("arena")
    empty = [s for s in numeric if not _has_number(report[s])]
    assert not empty, f"sections without numbers: {empty}"
    assert len(report["policies"]) == 3
    for row in report["policies"]:
        for part, key in POLICY_NUMBERS:
            value = row[part][key]
            assert isinstance(value, (int, float)), f"{row['name']}: {part}.{key} is {value!r}"
    assert report["commands"], "no commands to reproduce the report"


def _run(project, base: ModelArtifact, seed: int) -> DemoLoop:
    loop = demo_loop_create(project=project, budget="tiny", base_model=base, seed=seed)
    return demo_loop_execute(loop_id=loop.pk)


@pytest.mark.ml
def test_it_runs_the_whole_loop_and_the_same_seed_gives_the_same_numbers(db, tiny_policy_dir):
    base = artifact_register(kind=ModelArtifact.Kind.BASE, name="tiny-base", path=tiny_policy_dir)
    first = _run(_demo_project("Demo one"), base, seed=3)
    steps = {s["name"]: s for s in first.steps}
    before_report = [name for name, _ in STEPS if name != "report"]
    assert [steps[n]["status"] for n in before_report] == [JobStatus.SUCCEEDED] * len(before_report), (
        first.error
    )
    for name in ("reward", "sft", "ppo", "cold_start", "grpo"):
        assert steps[name]["url"] == f"/runs/{steps[name]['run_id']}/"
    assert steps["label"]["numbers"]["judgments"] > 0
    arena = steps["arena"]["numbers"]
    assert arena["answers"] == 3 * arena["prompts"] > 0  # tiny policies may answer alike: no pairs then
    assert steps["reward"]["numbers"]["pairs"] > 0  # from the simulated labelers' judgments

    second = _run(_demo_project("Demo two"), base, seed=3)
    assert _numbers(second) == _numbers(first)

    assert first.status == second.status == JobStatus.SUCCEEDED, first.error or second.error
    report_one = _report_numbers(Path(steps["report"]["path"]))
    _assert_every_section_has_numbers(report_one, arena_games=bool(steps["arena"]["numbers"]["comparisons"]))
    # The report's measurements too (not its times, costs or names, which differ between loops).
    report_two = _report_numbers(Path(next(s for s in second.steps if s["name"] == "report")["path"]))
    for one, two in zip(report_one["policies"], report_two["policies"], strict=True):
        assert one["rules"]["accuracy"] == two["rules"]["accuracy"]
        assert one["rm"]["mean_score"] == pytest.approx(two["rm"]["mean_score"])


@pytest.mark.slow
@pytest.mark.ml
def test_demo_loop_quick_with_smollm2_writes_a_full_report(db, smollm2_dir):
    """The CI smoke test: `demo_setup` then `demo_loop --quick --sync` (about 4 minutes on a quiet
    2-core CPU; the time is printed, and measured by bench/contrast.py --quick, not asserted)."""
    artifact_register(
        kind=ModelArtifact.Kind.BASE, name=settings.PAIRWISE_DEFAULT_BASE_MODEL, path=smollm2_dir
    )
    call_command("demo_setup")
    started = time.monotonic()
    call_command("demo_loop", quick=True, sync=True)
    seconds = time.monotonic() - started
    loop = DemoLoop.objects.get(project__name=DEMO_PROJECT)
    assert loop.status == JobStatus.SUCCEEDED, loop.error
    report = next(s for s in loop.steps if s["name"] == "report")
    _assert_every_section_has_numbers(_report_numbers(Path(report["path"])))
    print(f"demo_loop --quick took {seconds:.0f} s")
