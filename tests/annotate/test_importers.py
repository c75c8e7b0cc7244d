from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotate.exporting.build import preferences_rows
from annotate.importing.parse import ImportFileError, jsonl_bytes
from annotate.importing.write import data_import
from annotate.models import Choice, Comparison, ImportBatch, Judgment, Project, Prompt, Response
from pairwise.errors import PairwiseError
from tests.factories import make_project


def run(project, rows, fmt, *, gzipped=False, name="data.jsonl", **kw):
    return data_import(
        project=project, source=io.BytesIO(jsonl_bytes(rows, gzipped=gzipped)), fmt=fmt, filename=name, **kw
    )


def counts(project) -> dict[str, int]:
    return {
        "prompts": Prompt.objects.filter(project=project).count(),
        "responses": Response.objects.filter(prompt__project=project).count(),
        "comparisons": Comparison.objects.filter(project=project).count(),
        "judgments": Judgment.objects.filter(comparison__project=project).count(),
    }


def rejects(project, rows, fmt, match: str):
    """The file is refused with that message and the project is left exactly as it was."""
    before, batches = counts(project), ImportBatch.objects.count()
    with pytest.raises(ImportFileError, match=match) as info:
        run(project, rows, fmt)
    assert counts(project) == before and ImportBatch.objects.count() == batches
    return info.value


# --- prompts and responses -----------------------------------------------------------------------


def test_it_imports_prompts_as_text_or_messages(project):
    result = run(
        project,
        [
            {"prompt": "What is 2+2?", "reference_answer": 4, "tags": "math", "split": "heldout"},
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hello?"},
                ],
                "tags": ["chat", "greeting"],
                "source": "handwritten",
            },
        ],
        "prompts",
        name="prompts.jsonl",
    )
    assert result.created == {"prompts": 2, "responses": 0, "comparisons": 0, "judgments": 0}
    math, chat = Prompt.objects.order_by("id")
    assert math.messages == [{"role": "user", "content": "What is 2+2?"}]
    assert (math.reference_answer, math.tags, math.split, math.source) == (
        "4",
        ["math"],
        "heldout",
        "prompts.jsonl",
    )
    assert chat.messages[0] == {"role": "system", "content": "Be brief."}
    assert (chat.tags, chat.split, chat.source) == (["chat", "greeting"], "train", "handwritten")
    batch = ImportBatch.objects.get()
    assert (batch.format, batch.filename, batch.lines, batch.created_counts["prompts"]) == (
        "prompts",
        "prompts.jsonl",
        2,
        2,
    )


def test_it_imports_responses_with_their_models(project):
    run(
        project,
        [
            {
                "prompt": "Write a haiku.",
                "responses": [
                    {"text": "Leaves fall", "model": "m-small", "params": {"temperature": 0.7}, "seed": 3},
                    "Snow melts",
                ],
            }
        ],
        "responses",
    )
    first, second = Response.objects.order_by("id")
    assert (first.text, first.model_name, first.generation_params, first.seed) == (
        "Leaves fall",
        "m-small",
        {"temperature": 0.7},
        3,
    )
    assert (second.text, second.model_name) == ("Snow melts", "")
    assert Comparison.objects.count() == 0  # pairs are built separately


def test_it_names_line_and_field_for_bad_prompt_lines(project):
    rejects(
        project, [{"prompt": "ok"}, {"text": "no prompt"}], "prompts", r"^line 2: field 'prompt' is missing"
    )
    rejects(
        project,
        [{"messages": [{"role": "bot", "content": "x"}]}],
        "prompts",
        r"line 1: field 'messages' message 1 has role 'bot'",
    )
    rejects(
        project,
        [{"prompt": "x", "split": "test"}],
        "prompts",
        r"line 1: field 'split' must be train or heldout",
    )
    rejects(
        project,
        [{"prompt": "x", "responses": [{"model": "m"}]}],
        "responses",
        r"line 1: field 'responses\[0\].text' is missing",
    )


def test_it_reports_invalid_json_and_non_objects(project):
    data = b'{"prompt": "fine"}\n{"prompt": "broken"\n[1, 2]\n'
    with pytest.raises(ImportFileError) as info:
        data_import(project=project, source=io.BytesIO(data), fmt="prompts")
    message = info.value.message
    assert message.startswith("line 2: not valid JSON")
    assert "1 more bad lines: line 3" in message and message.endswith("Nothing was imported.")
    assert info.value.errors[1] == "line 3: expected a JSON object, got list"
    assert Prompt.objects.count() == 0


def test_it_rejects_an_empty_file(project):
    with pytest.raises(ImportFileError, match="no records"):
        data_import(project=project, source=io.BytesIO(b"\n\n"), fmt="prompts")


# --- preferences ---------------------------------------------------------------------------------


def test_it_turns_trl_pairs_into_comparisons_with_an_external_judgment(project):
    result = run(project, [{"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."}], "trl")
    assert result.created == {"prompts": 1, "responses": 2, "comparisons": 1, "judgments": 1}
    comparison = Comparison.objects.get()
    judgment = Judgment.objects.get()
    assert judgment.source == Judgment.Source.EXTERNAL and judgment.labeler is None
    assert judgment.winner.text == "Paris."
    # Stored as if shown AB: the choice names the stored side of the winner.
    expected = Choice.A if comparison.response_a.text == "Paris." else Choice.B
    assert (judgment.choice, judgment.side_order) == (expected, "AB")
    assert comparison.judgment_count == 0  # imported votes leave room for k human judgments
    rows, _ = preferences_rows(project=project)
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [
        ("Capital of France?", "Paris.", "Lyon.")
    ]


def test_it_imports_conversational_trl_in_explicit_and_implicit_form(project):
    system = {"role": "system", "content": "Answer briefly."}
    user = {"role": "user", "content": "Sky colour?"}
    run(
        project,
        [
            {
                "prompt": [system, user],
                "chosen": [{"role": "assistant", "content": "Blue."}],
                "rejected": [{"role": "assistant", "content": "Green."}],
            },
            {  # implicit prompt: the shared prefix of the two conversations
                "chosen": [user, {"role": "assistant", "content": "Blue, by day."}],
                "rejected": [user, {"role": "assistant", "content": "Purple."}],
            },
        ],
        "trl",
    )
    explicit, implicit = Prompt.objects.order_by("id")
    assert explicit.messages == [system, user]
    assert implicit.messages == [user]
    winners = sorted(j.winner.text for j in Judgment.objects.all())
    assert winners == ["Blue, by day.", "Blue."]


def test_it_rejects_bad_trl_lines(project):
    rejects(
        project,
        [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p", "rejected": "b"}],
        "trl",
        r"^line 2: field 'chosen' is missing",
    )
    rejects(project, [{"chosen": "a", "rejected": "b"}], "trl", r"line 1: field 'prompt' is missing")
    rejects(
        project,
        [{"prompt": "p", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"}],
        "trl",
        r"line 1: field 'chosen' must be one assistant message",
    )


def test_it_splits_hh_transcripts_into_a_shared_prompt_and_two_answers(project):
    prefix = "\n\nHuman: How do I boil an egg?\n\nAssistant: In water.\n\nHuman: For how long?"
    result = run(
        project,
        [
            {
                "chosen": prefix + "\n\nAssistant: About nine minutes.",
                "rejected": prefix + "\n\nAssistant: Forever.",
            },
        ],
        "hh",
    )
    assert result.created["judgments"] == 1
    prompt = Prompt.objects.get()
    assert prompt.messages == [
        {"role": "user", "content": "How do I boil an egg?"},
        {"role": "assistant", "content": "In water."},
        {"role": "user", "content": "For how long?"},
    ]
    assert Judgment.objects.get().winner.text == "About nine minutes."
    assert sorted(Response.objects.values_list("text", flat=True)) == ["About nine minutes.", "Forever."]


def test_it_rejects_hh_lines_without_a_final_assistant_turn_identical_or_without_a_shared_human_turn(
    project,
):
    rejects(
        project,
        [
            {
                "chosen": "\n\nHuman: Hi\n\nAssistant: Hello",
                "rejected": "\n\nHuman: Hi\n\nAssistant: Yo\n\nHuman: ?",
            }
        ],
        "hh",
        r"line 1: 'rejected' does not end with an 'Assistant:' turn",
    )
    same = "\n\nHuman: Hi\n\nAssistant: Same."
    rejects(project, [{"chosen": same, "rejected": same}], "hh", r"line 1: .* are the same conversation")
    rejects(
        project,
        [{"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: x\n\nAssistant: c"}],
        "hh",
        r"line 1: .* share no 'Human:' turn",
    )
    rejects(project, [{"chosen": "", "rejected": same}], "hh", r"line 1: 'chosen' is empty")
    rejects(project, [{"rejected": same}], "hh", r"line 1: field 'chosen' is missing")
    rejects(project, [{"chosen": "no markers", "rejected": "x"}], "hh", r"'chosen': no 'Human:'")


def test_it_imports_gsm8k_with_the_final_number_as_reference(project):
    run(
        project,
        [
            {"question": "Tom has 3 apples and buys 2. How many?", "answer": "3 + 2 = <<3+2=5>>5\n#### 5"},
            {"question": "A big sum?", "answer": "Add them.\n#### 1,250"},
        ],
        "gsm8k",
        default_split="heldout",
    )
    first, second = Prompt.objects.order_by("id")
    assert (first.reference_answer, second.reference_answer) == ("5", "1250")
    assert first.split == "heldout"
    solution = Response.objects.get(prompt=first)
    assert solution.text.startswith("3 + 2 = <<3+2=5>>5") and solution.model_name == "gsm8k:reference"
    rejects(
        project,
        [{"question": "q", "answer": "no final line"}],
        "gsm8k",
        r"line 1: field 'answer' must end with '#### <number>'",
    )


# --- files, atomicity, idempotence ---------------------------------------------------------------


def test_it_reads_gzipped_files_by_their_magic_bytes(project, tmp_path):
    path = tmp_path / "pairs.data"  # no .gz suffix: detection is by content
    path.write_bytes(jsonl_bytes([{"prompt": "p", "chosen": "a", "rejected": "b"}], gzipped=True))
    result = data_import(project=project, source=path, fmt="trl")
    assert result.created["judgments"] == 1
    # The same content uncompressed is the same file: nothing new.
    plain = tmp_path / "pairs.jsonl"
    plain.write_bytes(jsonl_bytes([{"prompt": "p", "chosen": "a", "rejected": "b"}]))
    again = data_import(project=project, source=plain, fmt="trl")
    assert sum(again.created.values()) == 0
    assert again.batch.file_hash == result.batch.file_hash


def test_it_writes_nothing_when_line_5000_is_bad(project):
    rows = [
        {"prompt": f"question {i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(1, 5001)
    ]
    rows[4999] = {"prompt": "question 5000", "rejected": "bad"}
    error = rejects(project, rows, "trl", r"^line 5000: field 'chosen' is missing")
    assert error.errors == ["line 5000: field 'chosen' is missing"]
    assert counts(project) == {"prompts": 0, "responses": 0, "comparisons": 0, "judgments": 0}


def test_it_does_not_duplicate_rows_when_the_same_file_is_imported_twice(project):
    rows = [
        {"prompt": "p1", "chosen": "a", "rejected": "b"},
        {"prompt": "p1", "chosen": "a", "rejected": "c"},
        {"prompt": "p2", "chosen": "x", "rejected": "y"},
        {"prompt": "p2", "chosen": "x", "rejected": "y"},  # a repeated line is one judgment
    ]
    first = run(project, rows, "trl")
    assert first.created == {"prompts": 2, "responses": 5, "comparisons": 3, "judgments": 3}
    assert first.duplicate_lines == 1
    before = counts(project)
    second = run(project, rows, "trl")
    assert second.created == {"prompts": 0, "responses": 0, "comparisons": 0, "judgments": 0}
    assert second.existing == {"prompts": 2, "responses": 5, "comparisons": 3, "judgments": 3}
    assert counts(project) == before
    assert ImportBatch.objects.count() == 2


def test_it_meets_the_same_pair_in_either_order_as_one_comparison(project):
    run(
        project,
        [
            {"prompt": "p", "chosen": "a", "rejected": "b"},
            {"prompt": "p", "chosen": "b", "rejected": "a"},
            {"prompt": "p", "chosen": "a", "rejected": "b", "source": "another rater"},
        ],
        "trl",
    )
    assert Comparison.objects.count() == 1
    # Two distinct judgments (the third line repeats the first).
    assert sorted(j.winner.text for j in Judgment.objects.all()) == ["a", "b"]


def test_it_adds_new_preferences_to_pairs_that_exist(project):
    run(project, [{"prompt": "p", "responses": ["a", "b"]}], "responses")
    prompt = Prompt.objects.get()
    ra, rb = Response.objects.order_by("id")
    existing = Comparison.objects.create(project=project, prompt=prompt, response_a=rb, response_b=ra)
    result = run(project, [{"prompt": "p", "chosen": "a", "rejected": "b"}], "trl")
    assert result.created == {"prompts": 0, "responses": 0, "comparisons": 0, "judgments": 1}
    judgment = Judgment.objects.get()
    assert judgment.comparison_id == existing.pk and judgment.winner_id == ra.pk
    assert judgment.choice == Choice.B  # response_a of this comparison is "b"


def test_it_keeps_imports_into_two_projects_apart(project):
    other = make_project("Other")
    rows = [{"prompt": "p", "chosen": "a", "rejected": "b"}]
    run(project, rows, "trl")
    run(other, rows, "trl")
    assert (
        counts(project) == counts(other) == {"prompts": 1, "responses": 2, "comparisons": 1, "judgments": 1}
    )


def test_it_leaves_existing_prompts_as_they_are(project):
    run(project, [{"prompt": "p", "reference_answer": "1", "tags": ["a"]}], "prompts")
    run(project, [{"prompt": "p", "reference_answer": "2", "tags": ["b"]}], "prompts")
    prompt = Prompt.objects.get()
    assert (prompt.reference_answer, prompt.tags) == ("1", ["a"])


# --- the command -----------------------------------------------------------------------------------


def test_the_command_imports_and_creates_the_project(db, tmp_path, capsys):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(jsonl_bytes([{"prompt": "p1"}, {"prompt": "p2"}]))
    with pytest.raises(CommandError, match="add --create"):
        call_command("import_data", str(path), "--project", "New", "--format", "prompts")
    call_command(
        "import_data", str(path), "--project", "New", "--create", "--format", "prompts", "--no-progress"
    )
    out = capsys.readouterr().out
    assert "Created project 'New'" in out and "2 lines: created 2 prompts" in out
    assert Prompt.objects.filter(project__name="New").count() == 2


def test_the_command_creates_no_project_when_the_file_is_bad(db, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"prompt": "ok"}) + "\n" + json.dumps({"nope": 1}) + "\n")
    with pytest.raises(CommandError, match="line 2: field 'prompt' is missing"):
        call_command("import_data", str(path), "--project", "New", "--create", "--format", "prompts")
    assert not Project.objects.filter(name="New").exists()


def test_the_command_sets_the_split_of_new_prompts(project, tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_bytes(jsonl_bytes([{"question": "q", "answer": "#### 3"}]))
    call_command(
        "import_data",
        str(path),
        "--project",
        project.name,
        "--format",
        "gsm8k",
        "--split",
        "heldout",
        "--no-progress",
    )
    assert Prompt.objects.get().split == "heldout"


def test_it_rolls_back_everything_when_a_write_fails_midway(project, monkeypatch):
    from annotate.importing import write

    real = write._insert

    def failing(model, columns, rows, bar):
        if model is Judgment:  # prompts, responses and comparisons are written by now
            raise RuntimeError("database went away")
        real(model, columns, rows, bar)

    monkeypatch.setattr(write, "_insert", failing)
    with pytest.raises(RuntimeError):
        run(project, [{"prompt": "p", "chosen": "a", "rejected": "b"}], "trl")
    assert counts(project) == {"prompts": 0, "responses": 0, "comparisons": 0, "judgments": 0}
    assert ImportBatch.objects.count() == 0


# --- HH as published ---------------------------------------------------------------------------------

HH_QUIRKS = Path(__file__).resolve().parents[1] / "fixtures" / "hh_quirks.jsonl"


def test_it_imports_hh_pairs_that_part_before_their_last_assistant_turn(project):
    """tests/fixtures/hh_quirks.jsonl: a usual pair, a pair whose sides have different numbers of
    turns, a pair parting at a Human turn, an identical pair (line 4), odd whitespace."""
    with pytest.raises(ImportFileError, match=r"^line 4: .*same conversation"):
        data_import(project=project, source=HH_QUIRKS, fmt="hh")
    assert counts(project)["prompts"] == 0

    result = data_import(project=project, source=HH_QUIRKS, fmt="hh", skip_invalid=True)
    assert result.skipped_invalid == 1 and result.created["judgments"] == 4
    lock = Prompt.objects.get(messages=[{"role": "user", "content": "How do I pick a lock?"}])
    short, long = Response.objects.filter(prompt=lock).order_by("id")
    assert (short.text, short.messages) == ("I can't help with getting into places that aren't yours.", [])
    assert long.messages == [
        {"role": "assistant", "content": "What kind of lock is it?"},
        {"role": "user", "content": "A front door."},
        {"role": "assistant", "content": "You would need a tension wrench and a pick."},
    ]
    assert long.text == (
        "Assistant: What kind of lock is it?\n\nHuman: A front door.\n\n"
        "Assistant: You would need a tension wrench and a pick."
    )
    assert Judgment.objects.get(comparison__prompt=lock).winner == short

    # Exported faithfully: the responses' own turns, in the conversational form.
    rows, stats = preferences_rows(project=project)
    assert stats["conversational"]
    row = next(r for r in rows if r["prompt_id"] == lock.pk)
    assert row["chosen"] == [{"role": "assistant", "content": short.text}]
    assert row["rejected"] == long.messages
    with pytest.raises(PairwiseError, match="responses are conversations"):
        preferences_rows(project=project, conversational=False)

    # Shown as turns on the ranking screen.
    from annotate.screen_views import _side

    html = _side(long)["html"]
    assert html.count('class="turn turn-assistant"') == 2 and html.count('class="turn turn-user"') == 1

    again = data_import(project=project, source=HH_QUIRKS, fmt="hh", skip_invalid=True)
    assert again.created == {"prompts": 0, "responses": 0, "comparisons": 0, "judgments": 0}


def test_the_command_skips_invalid_hh_lines_only_when_told(db, tmp_path, capsys):
    with pytest.raises(CommandError, match=r"line 4: .*same conversation"):
        call_command("import_data", str(HH_QUIRKS), "--project", "HH", "--create", "--format", "hh")
    assert not Project.objects.filter(name="HH").exists()
    call_command(
        "import_data",
        str(HH_QUIRKS),
        *("--project", "HH", "--create", "--format", "hh", "--skip-invalid", "--no-progress"),
    )
    captured = capsys.readouterr()
    assert "Skipped 1 invalid lines:\n  line 4: 'chosen' and 'rejected' are the same conversation" in (
        captured.err
    )
    assert "created 4 prompts" in captured.out and "skipped 1 invalid lines" in captured.out
    assert ImportBatch.objects.get().created_counts["skipped_invalid"] == 1


# --- imported judgments and labelers' client ids ------------------------------------------------------


def test_a_labeler_cannot_make_an_import_skip_a_preference(project, alice):
    """An imported judgment's key is derived from content; a labeler who sends that very string as
    client_id must not make a later import believe the preference is already there."""
    from annotate.models import content_hash
    from annotate.services import JudgmentInput, comparison_assign_next, judgment_record

    run(project, [{"prompt": "p", "responses": ["a", "b"]}], "responses")
    prompt = Prompt.objects.get()
    ra, rb = Response.objects.order_by("id")
    Comparison.objects.create(project=project, prompt=prompt, response_a=ra, response_b=rb)
    derived = (
        "ext-"
        + content_hash(
            "preference", project.pk, content_hash(prompt.messages), content_hash("a"), content_hash("b")
        )[:60]
    )
    assignment = comparison_assign_next(labeler=alice, project=project)
    judgment_record(
        labeler=alice, assignment_id=assignment.pk, data=JudgmentInput(choice=Choice.B, client_id=derived)
    )

    result = run(project, [{"prompt": "p", "chosen": "a", "rejected": "b"}], "trl")
    assert result.created["judgments"] == 1
    imported = Judgment.objects.get(source=Judgment.Source.EXTERNAL)
    assert imported.winner == ra and imported.client_id != derived
    assert Judgment.objects.get(client_id=derived).labeler == alice  # hers, untouched
    assert run(project, [{"prompt": "p", "chosen": "a", "rejected": "b"}], "trl").created["judgments"] == 0


def test_the_migration_moves_old_import_ids_to_import_key_so_a_reimport_adds_nothing(project, alice):
    """Before 0008 an imported judgment's derived key was its client_id."""
    import importlib

    from django.apps import apps

    rows = [{"prompt": "p", "chosen": "a", "rejected": "b"}]
    run(project, rows, "trl")
    imported = Judgment.objects.get()
    Judgment.objects.filter(pk=imported.pk).update(client_id=imported.import_key, import_key=None)
    migration = importlib.import_module("annotate.migrations.0008_import_key_response_messages")
    migration.copy_import_keys(apps, None)
    imported.refresh_from_db()
    assert imported.import_key == imported.client_id and imported.import_key.startswith("ext-")
    assert run(project, rows, "trl").created["judgments"] == 0
