from __future__ import annotations

import csv
import json
import os
from itertools import count

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from annotate.exporting import build
from annotate.exporting.build import judgments_export_raw, labeler_pseudonym, preferences_export
from annotate.exporting.store import export_store_list
from annotate.models import Choice, Comparison, Judgment, LabelerExclusion, Prompt, Response, content_hash
from pairwise.errors import PairwiseError
from tests.factories import make_comparison, make_user

_cid = count(1)


def vote(comparison: Comparison, labeler, choice: str, *, shown: str = "AB", **fields) -> Judgment:
    """A judgment as judgment_record would store it; `choice` is what was shown (A = left)."""
    if choice in (Choice.A, Choice.B):
        left_is_a = shown == "AB"
        winner = comparison.response_a if (choice == Choice.A) == left_is_a else comparison.response_b
    else:
        winner = None
    return Judgment.objects.create(
        comparison=comparison,
        labeler=labeler,
        source=Judgment.Source.HUMAN if labeler else Judgment.Source.EXTERNAL,
        choice=choice,
        side_order=shown,
        winner=winner,
        client_id=f"t-{next(_cid)}",
        **fields,
    )


def read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def export(project, tmp_path, **kw):
    result = preferences_export(project=project, out_path=tmp_path / "prefs.jsonl", **kw)
    rows = read_jsonl(result.train_path)
    if result.eval_path is not None:
        rows += read_jsonl(result.eval_path)
    return result, rows


def test_it_aggregates_by_majority_vote_regardless_of_side_shown(alice, bob, carol, project, tmp_path):
    c = make_comparison(project, prompt_text="Name a fruit.", a="apple", b="rock")
    vote(c, alice, "A", shown="AB")  # response_a
    vote(c, bob, "B", shown="BA")  # BA: response_a was on the right, so B is response_a
    vote(c, carol, "A", shown="BA")  # response_b
    result, rows = export(project, tmp_path)
    assert rows == [
        {
            "prompt": "Name a fruit.",
            "chosen": "apple",
            "rejected": "rock",
            "comparison_id": c.pk,
            "prompt_id": c.prompt_id,
            "n_votes": 3,
            "agreement": pytest.approx(2 / 3, abs=1e-6),
            "tie": False,
        }
    ]
    assert (result.n_train, result.n_eval, result.n_comparisons, result.n_judgments) == (1, 0, 1, 3)
    assert result.n_labelers == 3 and result.conversational is False


def test_it_counts_external_judgments_as_votes(alice, project, tmp_path):
    c = make_comparison(project, a="good", b="bad")
    vote(c, alice, "A")
    vote(c, None, "B")  # imported: prefers bad
    vote(c, None, "B", shown="AB")
    _, rows = export(project, tmp_path)
    assert [(r["chosen"], r["n_votes"]) for r in rows] == [("bad", 3)]


def test_it_drops_ties_both_bad_and_splits_by_default(alice, bob, project, tmp_path):
    tie = make_comparison(project, a="t1", b="t2")
    vote(tie, alice, "tie")
    split = make_comparison(project, a="s1", b="s2")
    vote(split, alice, "A")
    vote(split, bob, "B")
    bad = make_comparison(project, a="b1", b="b2")
    vote(bad, alice, "both_bad")
    clear = make_comparison(project, a="c1", b="c2")
    vote(clear, alice, "B")
    _, rows = export(project, tmp_path)
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("c2", "c1")]


def test_it_keeps_ties_as_mirrored_pairs_when_asked(alice, bob, project, tmp_path):
    tie = make_comparison(project, a="t1", b="t2")
    vote(tie, alice, "tie")
    split = make_comparison(project, a="s1", b="s2")
    vote(split, alice, "A")
    vote(split, bob, "B")
    bad = make_comparison(project, a="b1", b="b2")
    vote(bad, alice, "both_bad")
    result, rows = export(project, tmp_path, keep_ties=True)
    pairs = sorted((r["chosen"], r["rejected"], r["tie"]) for r in rows)
    assert pairs == [("s1", "s2", True), ("s2", "s1", True), ("t1", "t2", True), ("t2", "t1", True)]
    assert result.n_comparisons == 2 and result.n_train == 4


def test_it_applies_min_agreement_to_the_winner_share(alice, bob, carol, project, tmp_path):
    unanimous = make_comparison(project, a="u1", b="u2")
    vote(unanimous, alice, "A")
    vote(unanimous, bob, "A")
    two_of_three = make_comparison(project, a="m1", b="m2")
    vote(two_of_three, alice, "A")
    vote(two_of_three, bob, "A")
    vote(two_of_three, carol, "tie")
    _, rows = export(project, tmp_path, min_agreement=0.7)
    assert [r["chosen"] for r in rows] == ["u1"]
    _, rows = export(project, tmp_path, min_agreement=0.6)
    assert sorted(r["chosen"] for r in rows) == ["m1", "u1"]


def test_it_excludes_gold_comparisons(alice, project, tmp_path):
    gold = make_comparison(project, a="g1", b="g2", is_gold=True, gold_choice="A")
    vote(gold, alice, "A")
    normal = make_comparison(project, a="n1", b="n2")
    vote(normal, alice, "A")
    result, rows = export(project, tmp_path)
    assert [r["comparison_id"] for r in rows] == [normal.pk]
    assert result.n_judgments == 1


def test_it_drops_excluded_labelers_until_the_exclusion_is_lifted(alice, bob, manager, project, tmp_path):
    c = make_comparison(project, a="x1", b="x2")
    vote(c, alice, "A")
    vote(c, bob, "B")
    vote(c, None, "B")  # external vote survives any exclusion
    exclusion = LabelerExclusion.objects.create(
        project=project, labeler=bob, reason="spam", excluded_by=manager
    )
    result, rows = export(project, tmp_path)
    assert [(r["chosen"], r["n_votes"]) for r in rows] == []  # 1 A vs 1 B: split, dropped
    assert result.filters["excluded_labelers"] == 1

    exclusion.lifted_at, exclusion.lifted_by = timezone.now(), manager
    exclusion.save()
    result, rows = export(project, tmp_path)
    assert [(r["chosen"], r["n_votes"]) for r in rows] == [("x2", 3)]
    assert result.n_labelers == 2


def test_it_ignores_an_exclusion_in_another_project(alice, manager, project, tmp_path):
    from tests.factories import make_project

    other = make_project("Other")
    LabelerExclusion.objects.create(project=other, labeler=alice, reason="x", excluded_by=manager)
    c = make_comparison(project)
    vote(c, alice, "A")
    _, rows = export(project, tmp_path)
    assert len(rows) == 1


def test_it_splits_eval_by_prompt_with_no_overlap(alice, bob, project, tmp_path):
    # Several comparisons per prompt: the split must keep each prompt on one side.
    for i in range(20):
        c = make_comparison(project, prompt_text=f"question {i}", a=f"a{i}", b=f"b{i}")
        vote(c, alice, "A")
        extra = Response.objects.create(prompt=c.prompt, text=f"c{i}", content_hash=content_hash(f"c{i}"))
        c2 = Comparison.objects.create(
            project=project, prompt=c.prompt, response_a=c.response_a, response_b=extra
        )
        vote(c2, bob, "B")
    result = preferences_export(project=project, out_path=tmp_path / "p.jsonl", eval_fraction=0.25, seed=7)
    train, evals = read_jsonl(result.train_path), read_jsonl(result.eval_path)
    assert result.eval_path == tmp_path / "p.eval.jsonl"
    train_prompts = {r["prompt_id"] for r in train}
    eval_prompts = {r["prompt_id"] for r in evals}
    assert not train_prompts & eval_prompts
    assert len(eval_prompts) == 5 and len(train_prompts) == 15
    assert (result.n_train, result.n_eval) == (30, 10)

    again = preferences_export(project=project, out_path=tmp_path / "q.jsonl", eval_fraction=0.25, seed=7)
    assert {r["prompt_id"] for r in read_jsonl(again.eval_path)} == eval_prompts
    assert again.content_hash == result.content_hash
    other_seed = preferences_export(
        project=project, out_path=tmp_path / "r.jsonl", eval_fraction=0.25, seed=8
    )
    assert {r["prompt_id"] for r in read_jsonl(other_seed.eval_path)} != eval_prompts


def test_it_uses_the_conversational_form_for_every_row_when_any_prompt_is_a_conversation(
    alice, project, tmp_path
):
    plain = make_comparison(project, prompt_text="Plain question", a="p1", b="p2")
    vote(plain, alice, "A")
    messages = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi?"}]
    prompt = Prompt.objects.create(project=project, messages=messages, content_hash=content_hash(messages))
    ra = Response.objects.create(prompt=prompt, text="Hello.", content_hash=content_hash("Hello."))
    rb = Response.objects.create(prompt=prompt, text="Go away.", content_hash=content_hash("Go away."))
    conv = Comparison.objects.create(project=project, prompt=prompt, response_a=ra, response_b=rb)
    vote(conv, alice, "A")

    result, rows = export(project, tmp_path)
    assert result.conversational is True
    by_id = {r["comparison_id"]: r for r in rows}
    assert by_id[plain.pk]["prompt"] == [{"role": "user", "content": "Plain question"}]
    assert by_id[plain.pk]["chosen"] == [{"role": "assistant", "content": "p1"}]
    assert by_id[conv.pk]["prompt"] == messages
    assert by_id[conv.pk]["rejected"] == [{"role": "assistant", "content": "Go away."}]

    with pytest.raises(PairwiseError, match="conversations"):
        preferences_export(project=project, out_path=tmp_path / "x.jsonl", conversational=False)


def test_it_can_force_the_conversational_form(alice, project, tmp_path):
    c = make_comparison(project, prompt_text="Q", a="a", b="b")
    vote(c, alice, "A")
    result, rows = export(project, tmp_path, conversational=True)
    assert rows[0]["prompt"] == [{"role": "user", "content": "Q"}]


def test_it_writes_a_datasets_dict_with_train_and_test(alice, bob, project, tmp_path):
    import datasets

    for i in range(4):
        vote(make_comparison(project, prompt_text=f"q{i}", a=f"a{i}", b=f"b{i}"), alice, "B")
    jsonl = preferences_export(project=project, out_path=tmp_path / "p.jsonl", eval_fraction=0.5)
    result = preferences_export(project=project, out_path=tmp_path / "ds", fmt="dataset", eval_fraction=0.5)
    loaded = datasets.load_from_disk(str(tmp_path / "ds"))
    assert set(loaded.keys()) == {"train", "test"}
    assert len(loaded["train"]) == 2 and len(loaded["test"]) == 2
    assert loaded["train"][0]["chosen"].startswith("b")
    assert result.content_hash == jsonl.content_hash
    assert result.train_path == tmp_path / "ds" / "train"
    # Exporting again over an existing dataset replaces it.
    preferences_export(project=project, out_path=tmp_path / "ds", fmt="dataset")
    assert set(datasets.load_from_disk(str(tmp_path / "ds")).keys()) == {"train"}


def test_it_leaves_the_old_file_untouched_when_writing_fails(alice, project, tmp_path, monkeypatch):
    c = make_comparison(project, a="new", b="old")
    vote(c, alice, "A")
    target = tmp_path / "prefs.jsonl"
    target.write_text('{"previous": "export"}\n')

    real = build._canonical_line
    calls = count()

    def explode(row):
        if next(calls) >= 1:  # the first call hashes; fail while the file is being written
            raise OSError("disk full")
        return real(row)

    monkeypatch.setattr(build, "_canonical_line", explode)
    with pytest.raises(OSError):
        preferences_export(project=project, out_path=target)
    assert target.read_text() == '{"previous": "export"}\n'
    assert os.listdir(tmp_path) == ["prefs.jsonl"]  # no temp file left behind


def test_it_rejects_bad_parameters(project, tmp_path):
    with pytest.raises(PairwiseError, match="eval_fraction"):
        preferences_export(project=project, out_path=tmp_path / "x", eval_fraction=1.0)
    with pytest.raises(PairwiseError, match="min_agreement"):
        preferences_export(project=project, out_path=tmp_path / "x", min_agreement=1.5)
    with pytest.raises(PairwiseError, match="format"):
        preferences_export(project=project, out_path=tmp_path / "x", fmt="parquet")


def test_it_exports_raw_judgments_without_usernames(alice, bob, manager, project, tmp_path):
    c = make_comparison(project, a="a", b="b")
    gold = make_comparison(project, is_gold=True, gold_choice="B")
    vote(c, alice, "A", rationale="clearer, alice thinks", strength=2, seconds_on_task=4.5)
    vote(c, bob, "B", shown="BA")
    vote(gold, alice, "tie")
    vote(c, None, "B")
    LabelerExclusion.objects.create(project=project, labeler=bob, reason="x", excluded_by=manager)

    n = judgments_export_raw(project=project, out_path=tmp_path / "raw.jsonl")
    rows = read_jsonl(tmp_path / "raw.jsonl")
    assert n == 4 and len(rows) == 4
    assert set(rows[0]) == set(build.RAW_FIELDS)
    text = (tmp_path / "raw.jsonl").read_text()
    assert "bob" not in text and '"alice"' not in text
    assert f'"labeler_id": {alice.pk}' not in text
    by_labeler = {r["labeler"] for r in rows}
    assert by_labeler == {labeler_pseudonym(alice.pk), labeler_pseudonym(bob.pk), ""}
    assert labeler_pseudonym(alice.pk) == labeler_pseudonym(alice.pk) != labeler_pseudonym(bob.pk)
    assert labeler_pseudonym(alice.pk).startswith("L-")
    bobs = [r for r in rows if r["labeler"] == labeler_pseudonym(bob.pk)]
    assert bobs[0]["labeler_excluded"] is True and bobs[0]["winner"] == "a"
    assert any(r["is_gold"] for r in rows)
    first = rows[0]
    assert (first["choice"], first["strength"], first["seconds_on_task"]) == ("A", 2, 4.5)

    n_csv = judgments_export_raw(project=project, out_path=tmp_path / "raw.csv", fmt="csv")
    with open(tmp_path / "raw.csv", newline="", encoding="utf-8") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert n_csv == 4 and csv_rows[0]["rationale"] == "clearer, alice thinks"
    assert "bob" not in (tmp_path / "raw.csv").read_text()


def test_it_changes_pseudonyms_with_the_salt(alice, settings):
    before = labeler_pseudonym(alice.pk)
    settings.PAIRWISE_PSEUDONYM_SALT = "another-salt"
    assert labeler_pseudonym(alice.pk) != before


def test_the_command_exports_and_reports_counts(alice, project, tmp_path, capsys):
    c = make_comparison(project, a="a", b="b")
    vote(c, alice, "A")
    out = tmp_path / "prefs.jsonl"
    call_command("export_preferences", "--project", project.name, "--out", str(out))
    assert "Exported 1 train + 0 eval rows (plain text) from 1 comparisons" in capsys.readouterr().out
    assert read_jsonl(out)[0]["chosen"] == "a"

    call_command(
        "export_preferences", "--project", project.name, "--out", str(tmp_path / "raw.csv"), "--raw", "csv"
    )
    assert "Wrote 1 judgments" in capsys.readouterr().out

    with pytest.raises(CommandError, match="No project named 'Nope'"):
        call_command("export_preferences", "--project", "Nope", "--out", str(out))
    with pytest.raises(CommandError, match="eval_fraction"):
        call_command(
            "export_preferences", "--project", project.name, "--out", str(out), "--eval-fraction", "2"
        )


def test_the_command_without_out_writes_into_the_export_store(alice, project, tmp_path, settings, capsys):
    settings.DATA_DIR = tmp_path
    vote(make_comparison(project, a="a", b="b"), alice, "A")
    call_command("export_preferences", "--project", project.name)
    call_command("export_preferences", "--project", project.name, "--raw", "csv")
    stored = export_store_list(project=project)
    assert sorted(s.files for s in stored) == [("judgments.csv",), ("train.jsonl",)]
    assert all(s.folder.parent == tmp_path / "exports" / str(project.pk) for s in stored)
    assert str(tmp_path / "exports") in capsys.readouterr().out
    with pytest.raises(CommandError, match="--format dataset needs --out"):
        call_command("export_preferences", "--project", project.name, "--format", "dataset")


def test_it_keeps_one_judgment_per_labeler_in_the_count(project, tmp_path):
    # Many labelers on one comparison: n_labelers counts people, n_judgments counts votes.
    c = make_comparison(project, a="a", b="b")
    for i in range(5):
        vote(c, make_user(f"l{i}"), "A" if i < 3 else "B")
    result, rows = export(project, tmp_path)
    assert (result.n_labelers, result.n_judgments, rows[0]["agreement"]) == (5, 5, 0.6)
