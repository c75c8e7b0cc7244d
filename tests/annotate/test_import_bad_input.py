"""Bad input to imports: bounded reading (limits named in the error), and values the database would
refuse or store differently (SQLite vs PostgreSQL) reported as line errors, never a 500.

Run on both databases: these tests are not marked, so a run with DATABASE_URL=postgres://... covers
PostgreSQL, where the values below used to fail in the database (NUL, NaN, seed overflow).
"""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from annotate.importing.parse import ImportFileError
from annotate.importing.write import data_import
from annotate.models import ImportBatch, Prompt, Response

GOOD = b'{"prompt": "fine", "responses": [{"text": "ok", "seed": 1}]}\n'

# (raw second line, what the error says). Each used to reach the database, or crash the parser.
BAD_LINES = {
    "seed over 64 bits": (
        b'{"prompt": "p", "responses": [{"text": "a", "seed": 1234567890123456789012345678901234567890}]}',
        r"line 2: field 'responses\[0\].seed' must fit in a 64-bit signed integer",
    ),
    "NUL in a prompt": (
        b'{"prompt": "a\\u0000b", "responses": ["a"]}',
        r"line 2: text contains a NUL character",
    ),
    "NUL in a params key": (
        b'{"prompt": "p", "responses": [{"text": "a", "params": {"k\\u0000": 1}}]}',
        r"line 2: text contains a NUL character",
    ),
    "unpaired surrogate": (
        b'{"prompt": "p", "responses": ["\\ud800"]}',
        r"line 2: text contains an unpaired surrogate",
    ),
    "NaN in params": (
        b'{"prompt": "p", "responses": [{"text": "a", "params": {"t": NaN}}]}',
        r"line 2: not valid JSON \(NaN is not a JSON number\)",
    ),
    "params nested too deep": (
        b'{"prompt": "p", "responses": [{"text": "a", "params": '
        + b'{"k": ' * 40
        + b"1"
        + b"}" * 40
        + b"}]}",
        r"line 2: the JSON is nested deeper than 32 levels",
    ),
    "recursion": (b"[" * 100_000 + b"]" * 100_000, r"line 2: the JSON is nested deeper than 32 levels"),
    "a 5000-digit number": (
        b'{"prompt": "p", "reference_answer": ' + b"9" * 5000 + b"}",
        r"line 2: not valid JSON \(",
    ),
}


def nothing_written(project) -> bool:
    return not Prompt.objects.filter(project=project).exists() and not ImportBatch.objects.exists()


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_every_bad_value_is_a_line_error(project, case):
    line, message = BAD_LINES[case]
    with pytest.raises(ImportFileError, match=message):
        data_import(project=project, source=io.BytesIO(GOOD + line + b"\n"), fmt="responses")
    assert nothing_written(project)


@pytest.mark.parametrize("case", ["seed over 64 bits", "NUL in a prompt", "NaN in params", "recursion"])
def test_the_command_reports_bad_values_by_line_and_skips_them_when_told(project, tmp_path, case, capsys):
    line, message = BAD_LINES[case]
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(GOOD + line + b"\n"))
    args = (str(path), "--project", project.name, "--format", "responses", "--no-progress")
    with pytest.raises(CommandError, match=message):
        call_command("import_data", *args)
    assert nothing_written(project)
    call_command("import_data", *args, "--skip-invalid")
    assert "Skipped 1 invalid lines:\n  line 2:" in capsys.readouterr().err
    assert list(Response.objects.values_list("text", "seed")) == [("ok", 1)]


@pytest.fixture
def staff_client(client, manager, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    manager.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="annotate", codename__endswith="_project")
    )
    client.force_login(manager)
    return client


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_the_admin_upload_shows_bad_values_as_line_errors(staff_client, project, case, run_jobs):
    line, _ = BAD_LINES[case]
    with run_jobs():  # imported by a worker; its job page shows how it ended
        response = staff_client.post(
            reverse("admin:annotate_project_import", args=[project.pk]),
            {
                "file": SimpleUploadedFile("bad.jsonl", GOOD + line + b"\n"),
                "format": "responses",
                "split": "train",
            },
        )
    page = staff_client.get(response["Location"])
    assert page.status_code == 200
    assert "Failed" in page.content.decode() and "line 2: " in page.content.decode()
    assert nothing_written(project)


def test_values_at_the_edge_of_the_checks_are_stored(project):
    """What the checks let through the database takes, on SQLite and PostgreSQL alike."""
    deep: dict = {"k": 1}
    for _ in range(28):  # params sit at depth 4 (line, responses, response): 4 + 28 = 32 levels
        deep = {"k": deep}
    rows = [
        {
            "prompt": "a \\u0000 written out, not a NUL",
            "responses": [
                {"text": "max", "seed": 2**63 - 1, "params": deep},
                {"text": "min", "seed": -(2**63)},
                {"text": "emoji \U0001f600 and \u00e9"},
            ],
        }
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()  # ASCII escapes, surrogate pairs
    result = data_import(project=project, source=io.BytesIO(data), fmt="responses")
    assert result.created["responses"] == 3
    assert sorted(Response.objects.values_list("seed", flat=True), key=str) == sorted(
        [2**63 - 1, -(2**63), None], key=str
    )
    assert Response.objects.filter(text="emoji \U0001f600 and \u00e9").exists()


# --- limits --------------------------------------------------------------------------------------------


def _bomb(n_bytes: int) -> bytes:
    """A small gzip that inflates to one line of n_bytes."""
    return gzip.compress(b'{"prompt": "' + b"a" * n_bytes + b'"}\n', compresslevel=9)


def test_one_huge_line_never_sits_in_memory_whole(project):
    bomb = _bomb(30 * 1024 * 1024)
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(
            ImportFileError,
            match=r"line 1 is longer than 1048576 bytes \(limit: PAIRWISE_IMPORT_MAX_LINE_BYTES\)",
        ):
            data_import(project=project, source=io.BytesIO(bomb), fmt="prompts")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak
    assert nothing_written(project)


def test_it_enforces_each_limit_and_names_its_setting(project, settings, tmp_path):
    settings.PAIRWISE_IMPORT_MAX_LINE_BYTES = 100
    with pytest.raises(ImportFileError, match=r"line 1 is longer than 100 bytes .*_MAX_LINE_BYTES"):
        data_import(project=project, source=io.BytesIO(_bomb(1000)), fmt="prompts")

    settings.PAIRWISE_IMPORT_MAX_LINE_BYTES = 1000
    settings.PAIRWISE_IMPORT_MAX_INFLATED_BYTES = 5000
    many = gzip.compress(b"".join(b'{"prompt": "p%d"}\n' % i for i in range(1000)))
    with pytest.raises(
        ImportFileError,
        match=r"larger than 5000 bytes once decompressed .*PAIRWISE_IMPORT_MAX_INFLATED_BYTES",
    ):
        data_import(project=project, source=io.BytesIO(many), fmt="prompts")

    settings.PAIRWISE_IMPORT_MAX_INFLATED_BYTES = 10**9
    settings.PAIRWISE_IMPORT_MAX_FILE_BYTES = 1000
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(b'{"prompt": "p%d"}\n' % i for i in range(1000)))
    with pytest.raises(
        CommandError, match=r"larger than 1000 bytes \(limit: PAIRWISE_IMPORT_MAX_FILE_BYTES\)"
    ):
        call_command(
            "import_data", str(path), "--project", project.name, "--format", "prompts", "--no-progress"
        )
    assert nothing_written(project)


def test_a_corrupt_gzip_is_refused(project):
    data = gzip.compress(GOOD * 50)[:-30]
    with pytest.raises(ImportFileError, match="the file cannot be read"):
        data_import(project=project, source=io.BytesIO(data), fmt="responses")
    assert nothing_written(project)
