"""The cost ledger adds up by hand (rows only, no training). Rates: cpu $0.5/h, cuda $2/h, H100 $3/h
(conftest.RATES); the project pays labelers $30/h.

Human judgments with a time in the project: 60, 120, 30, 90 (a tie, in no snapshot) and six arena
judgments of 40 s, so the median pace is 40 s."""

from __future__ import annotations

import pytest

from annotate.models import Judgment, LabelerExclusion
from rewardmodel.evaluation.ledger import (
    device_parse,
    device_rate,
    ledger_union,
    policy_ledger,
    snapshot_judgments,
)
from tests.rewardmodel.support.roads import RATES

PACE = 40.0


def test_it_adds_up_a_ppo_policy_by_hand(roads_rows):
    ledger = policy_ledger(model=roads_rows.ppo).as_dict()

    assert ledger["road"] == "human feedback"
    # The snapshot: alice 60 + bob 120 + alice 30 + bob untimed (the 40 s median) by people; two simulated.
    training = ledger["training_judgments"]
    assert training["human"]["n"] == 4 and training["human"]["timed"] == 3
    assert training["human"]["hours"] == pytest.approx((60 + 120 + 30 + PACE) / 3600)
    assert training["human"]["estimated_hours"] == pytest.approx(PACE / 3600)
    assert training["human"]["usd"] == pytest.approx((60 + 120 + 30 + PACE) / 3600 * 30)
    assert training["simulated"] == {"n": 2, "hours_if_human": pytest.approx(2 * PACE / 3600)}
    # ppo-1's arena games: 2 against base, 2 against grpo-1, 40 s each.
    assert ledger["arena_judgments"]["human"]["n"] == 4
    assert ledger["arena_judgments"]["human"]["hours"] == pytest.approx(160 / 3600)
    assert ledger["human"]["hours"] == pytest.approx(410 / 3600)
    assert ledger["human"]["usd"] == pytest.approx(410 / 3600 * 30)
    assert ledger["simulated"]["n"] == 2 and ledger["simulated"]["estimate"] is True
    # Compute: the reward run, 0.5 h x 2 H100 at $3; the PPO run, 2 h x 1 cpu at $0.5.
    runs = {r["kind"]: r for r in ledger["runs"]}
    assert runs["reward"]["devices"] == 2 and runs["reward"]["rate_key"] == "H100"
    assert runs["reward"]["hours"] == pytest.approx(1.0) and runs["reward"]["usd"] == pytest.approx(3.0)
    assert runs["ppo"]["hours"] == pytest.approx(2.0) and runs["ppo"]["usd"] == pytest.approx(1.0)
    assert ledger["compute"] == {"hours": pytest.approx(3.0), "usd": pytest.approx(4.0), "unpriced_runs": []}
    assert ledger["tokens"] == 1500
    assert ledger["total_usd"] == pytest.approx(410 / 3600 * 30 + 4.0)
    assert ledger["notes"] == []


def test_a_road_total_counts_a_shared_run_once(roads_rows):
    grpo, sft = policy_ledger(model=roads_rows.grpo), policy_ledger(model=roads_rows.sft)
    assert grpo.road == "rules" and sft.road == "supervised"
    # GRPO: 0.5 h on "cuda" ($2/h) after the cold-start SFT run, 1 h on cpu ($0.5/h).
    assert grpo.as_dict()["compute"]["usd"] == pytest.approx(1.0 + 0.5)
    road = ledger_union([grpo, sft], policy="rules", road="rules").as_dict()
    assert road["compute"]["usd"] == pytest.approx(1.5)  # not 2.0: the SFT run once
    assert road["tokens"] == 500
    assert road["training_judgments"]["human"]["n"] == 0  # rules: no judgments trained on
    assert road["arena_judgments"]["human"]["n"] == 4


def test_the_base_policy_costs_only_its_arena_judgments(roads_rows):
    ledger = policy_ledger(model=roads_rows.base).as_dict()
    assert ledger["road"] == "base" and ledger["runs"] == []
    assert ledger["human"]["n"] == 4 and ledger["compute"]["usd"] == 0
    assert ledger["total_usd"] == pytest.approx(160 / 3600 * 30)


def test_it_recovers_the_snapshots_judgments_and_checks_them_against_its_hash(roads_rows, manager):
    snapshot = roads_rows.snapshot
    rows, note = snapshot_judgments(snapshot)
    assert note is None and len(rows) == snapshot.n_judgments == 6
    # Later judgments, and an exclusion made after the snapshot, do not change what it holds.
    tie = Judgment.objects.get(choice="tie")
    LabelerExclusion.objects.create(
        project=roads_rows.project, labeler=roads_rows.people.bob, reason="later", excluded_by=manager
    )
    assert snapshot_judgments(snapshot) == (rows, None) and tie.pk not in rows
    # A judgment deleted since: the set no longer matches the hash, and the ledger says so.
    Judgment.objects.filter(pk=min(rows)).delete()
    rows, note = snapshot_judgments(snapshot)
    assert len(rows) == 5 and "not exactly the 6" in note
    assert note in policy_ledger(model=roads_rows.ppo).notes


def test_it_estimates_when_the_snapshot_files_are_gone(roads_rows, settings):
    import shutil

    shutil.rmtree(roads_rows.snapshot.path)
    ledger = policy_ledger(model=roads_rows.rm).as_dict()
    assert ledger["training_judgments"]["simulated"]["n"] == 2
    assert ledger["training_judgments"]["human"] == {
        "n": 4,
        "timed": 0,
        "hours": pytest.approx(4 * PACE / 3600),
        "estimated_hours": pytest.approx(4 * PACE / 3600),
        "usd": pytest.approx(4 * PACE / 3600 * 30),
    }
    assert any("files are gone" in n for n in ledger["notes"])


def test_simulated_judgments_cost_nothing_and_a_project_without_times_uses_the_default_pace(roads_rows):
    Judgment.objects.filter(source="human").update(seconds_on_task=None)
    ledger = policy_ledger(model=roads_rows.rm).as_dict()
    assert ledger["simulated"] == {"n": 2, "hours_if_human": pytest.approx(2 * 20 / 3600), "estimate": True}
    assert ledger["human"]["hours"] == pytest.approx(4 * 20 / 3600)  # all untimed: 20 s each, a guess
    assert any("no timed human judgment" in n for n in ledger["notes"])


@pytest.mark.parametrize(
    ("device", "parsed", "priced"),
    [
        ("cuda: 4 x NVIDIA H100 80GB HBM3", ("cuda", 4, "NVIDIA H100 80GB HBM3"), (4, 3.0, "H100")),
        ("cuda: 1 x NVIDIA A10G", ("cuda", 1, "NVIDIA A10G"), (1, 2.0, "cuda")),
        ("cpu (8 threads)", ("cpu", 1, ""), (1, 0.5, "cpu")),
        ("cuda", ("cuda", 1, ""), (1, 2.0, "cuda")),
        ("cuda:0", ("cuda", 1, ""), (1, 2.0, "cuda")),
        ("mps", ("mps", 1, ""), (1, 0.0, None)),
        ("", ("", 1, ""), (1, 0.0, None)),
    ],
)
def test_it_prices_each_recorded_device(device, parsed, priced):
    assert device_parse(device) == parsed
    assert device_rate(device, RATES) == priced


def test_the_environment_replaces_the_device_rates_it_names(monkeypatch):
    from pairwise.settings import envjson

    monkeypatch.setenv("PAIRWISE_DEVICE_HOURLY_USD", '{"cuda": 1.8, "L4": 0.8}')
    rates = envjson("PAIRWISE_DEVICE_HOURLY_USD", {"cpu": 0.35, "cuda": 2.5})
    assert rates == {"cpu": 0.35, "cuda": 1.8, "L4": 0.8}
