"""manage.py compare on tiny policies: base, a "PPO" policy (other random weights, registered with
a reward-model parent and a fake succeeded run) and a "GRPO" one (the base's weights behind a cold
start); no training. It writes the HTML and JSON with every section, and the same numbers twice."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import CommandError, call_command

from rewardmodel.models import ComparisonReport

# Small on purpose: 2 prompts, 6 tokens, 20 bootstrap draws (style control refits at each).
ARGS = {"policies": "base,ppo-1,grpo-1", "heldout": 2, "max_new_tokens": 6, "seed": 0, "bootstrap": 20}


def _compare(roads, out) -> dict:
    call_command("compare", project=roads.project.name, out=str(out), **ARGS)
    return json.loads(out.with_suffix(".json").read_text())


def _numbers(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "generated_at"}


def test_it_writes_a_self_contained_report_with_every_section_and_the_same_numbers_twice(
    roads_models, tmp_path, capsys
):
    out = tmp_path / "out" / "report.html"
    first = _compare(roads_models, out)
    html = out.read_text()
    printed = capsys.readouterr().out
    second = _compare(roads_models, out)
    assert _numbers(first) == _numbers(second)  # greedy: same data, same seed, same numbers

    rows = {row["name"]: row for row in first["policies"]}
    assert [r["road"] for r in first["policies"]] == ["base", "human feedback", "rules"]
    for row in rows.values():
        assert row["rules"]["n_prompts"] == 2 and 0 <= row["rules"]["accuracy"] <= 1
        assert row["rm"]["n_prompts"] == 2 and row["rm"]["reference"] == "base"
    assert first["params"]["reward_model"] == "rm-1"  # found in ppo-1's lineage
    assert rows["base"]["rm"]["kl"] == pytest.approx(0.0, abs=1e-4)
    assert rows["grpo-1"]["rules"] == {**rows["base"]["rules"]}  # the same weights answer the same
    assert rows["ppo-1"]["rm"]["kl"] > 0
    # Arena: ppo-1 won every game; intervals raw and style-controlled.
    assert first["arena"]["available"] and first["arena"]["comparisons"] == 6
    assert rows["ppo-1"]["arena"]["raw"]["elo"] > rows["base"]["arena"]["raw"]["elo"]
    assert rows["ppo-1"]["arena"]["raw"]["elo_ci"] and rows["ppo-1"]["arena"]["style"]["elo_ci"]
    # Ledger, roads, gains per point.
    assert rows["ppo-1"]["ledger"]["compute"]["usd"] == pytest.approx(4.0)
    roads = {r["road"]: r for r in first["roads"]}
    assert set(roads) == {"base", "human feedback", "rules"}
    assert roads["rules"]["ledger"]["compute"]["usd"] == pytest.approx(1.5)
    assert rows["ppo-1"]["gains"]["elo_points"] > 0
    assert rows["ppo-1"]["gains"]["usd_per_elo_point"] == pytest.approx(
        rows["ppo-1"]["ledger"]["total_usd"] / rows["ppo-1"]["gains"]["elo_points"]
    )
    # Curves of every run, scale, stalled roads in plain words.
    assert {c["key"] for c in first["curves"]} == {"accuracy", "score", "loss", "reward/total"}
    assert first["scale"]["pairs"] == 3 and first["scale"]["judgments"] == 6
    assert first["scale"]["training_minutes"] == pytest.approx(30 + 120 + 60 + 30, abs=0.1)
    notes = " ".join(n["text"] for n in first["notes"])
    assert "most groups had nothing to learn from" in notes  # GRPO: zero_std_fraction 0.75 on average
    assert "may be gaming its reward model" in notes  # PPO: the run's reward-hacking flag
    assert "barely beats chance" in notes  # rm-1: eval accuracy 0.52
    assert "no more accurate than base" in notes  # grpo-1 has the base's weights
    # The commands: each run from its config (the cold start folded into GRPO's), then compare.
    commands = first["commands"]
    assert commands[0].startswith("# base model base:")
    assert any(
        line.startswith(
            "python manage.py train_reward_model --project Roads --base base --epochs 1 --lr 1e-05"
        )
        and line.endswith("--name rm-1 --sync")
        for line in commands
    )
    ppo_line = next(line for line in commands if "--algo ppo" in line)
    assert "--policy base --reward-model rm-1 --episodes 64" in ppo_line and "--max-minutes 10" in ppo_line
    assert "--whiten-rewards" not in ppo_line
    grpo_line = next(line for line in commands if "--algo grpo" in line)
    assert "--policy base" in grpo_line and "--rewards accuracy,format" in grpo_line
    assert "--cold-start 8 --epochs 1.0 --max-length 128 --name grpo-1 --sync" in grpo_line
    assert not any("--algo sft" in line for line in commands)
    assert commands[-1] == (
        "python manage.py compare --project Roads --policies base,ppo-1,grpo-1 --heldout 2 --seed 0 "
        f"--max-new-tokens 6 --bootstrap 20 --out {out}"
    )

    # The HTML: every section, server-drawn charts, nothing fetched, no script.
    for section in (
        "scale",
        "notes",
        "quality",
        "ledger",
        "roads",
        "gains",
        "runs",
        "charts",
        "curves",
        "commands",
    ):
        assert f'id="{section}"' in html
    assert html.count("<svg") == 4 + 4  # cost, hours, accuracy, RM-vs-KL; four run curves
    assert (
        "<script" not in html and "<link" not in html and not re.search(r"""(src|href)=["']?https?:""", html)
    )
    assert "Scale: models of" in html and "2 held-out prompts" in html
    assert "train_reward_model" in html and "barely beats chance" in html
    # The table and the commands on the terminal; the report stored for the page.
    assert "ppo-1" in printed and "human feedback" in printed and "Reproduce:" in printed
    report = ComparisonReport.objects.order_by("pk").last()
    assert ComparisonReport.objects.count() == 2 and report.policies == ["base", "ppo-1", "grpo-1"]
    assert f"/reports/{report.pk}/" in capsys.readouterr().out


def test_it_refuses_what_it_cannot_compare(roads_rows, tmp_path):
    out = str(tmp_path / "r.html")
    with pytest.raises(CommandError, match="No project named"):
        call_command("compare", project="nope", policies="base,ppo-1", out=out)
    with pytest.raises(CommandError, match="at least two different policies"):
        call_command("compare", project="Roads", policies="base,base", out=out)
    with pytest.raises(CommandError, match="'rm-1' is a reward model; a comparison measures"):
        call_command("compare", project="Roads", policies="base,rm-1", out=out)
    with pytest.raises(CommandError, match="No registered model 'ghost'"):
        call_command("compare", project="Roads", policies="base,ghost", out=out)
