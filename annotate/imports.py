"""Write imported records: one transaction, found-again-by-content so a re-import adds nothing.

The formats and their validation live in annotate/importers.py (no database there). Here:
- Prompt: content_hash(messages), unique per project. The first line with that content supplies
  the metadata; a prompt that exists is left as it is.
- Response: content_hash(text), or of its messages for a response of several turns, unique per
  prompt (the first model name wins).
- Comparison: one per unordered pair of responses; response_a is the one with the smaller content
  hash, so the same pair in either order, or from another file, meets one row.
- External Judgment (trl, hh): import_key derived from the project and the content, so the same
  preference is stored once however often it is imported; a line repeated inside a file is one
  judgment. Imported judgments do not count towards the comparison's human judgments (k).
  import_key is a column of its own that labelers cannot write: were it the client_id, a labeler
  could submit a judgment under a derived id and make a later import skip that preference. Their
  client_id is random.

Inserts go through COPY (PostgreSQL) or executemany (SQLite) rather than bulk_create, whose
compiling of SQL value by value was the bottleneck (several times slower on a 2-core machine).
Ids are then read back by content hash.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.utils import timezone
from tqdm import tqdm

from .errors import PairwiseError
from .importers import ParsedFile, Record, ResponseSpec, parse_records
from .models import (
    Choice,
    Comparison,
    ImportBatch,
    Judgment,
    Project,
    Prompt,
    Response,
    SideOrder,
    content_hash,
)

INSERT_CHUNK = 5000
# Lookups of existing rows go in chunks to stay under the parameter limits of one statement.
LOOKUP_CHUNK = 2000


@dataclass(frozen=True)
class ImportResult:
    batch: ImportBatch
    lines: int
    created: dict[str, int]
    existing: dict[str, int]
    skipped_identical: int
    duplicate_lines: int
    skipped_invalid: int = 0

    def summary(self) -> str:
        made = ", ".join(f"{n} {kind}" for kind, n in self.created.items())
        found = ", ".join(f"{n} {kind}" for kind, n in self.existing.items() if n)
        text = f"{self.lines} lines: created {made}"
        if found:
            text += f"; already there: {found}"
        if self.skipped_identical:
            text += f"; skipped {self.skipped_identical} pairs with identical responses"
        if self.duplicate_lines:
            text += f"; {self.duplicate_lines} repeated lines"
        if self.skipped_invalid:
            text += f"; skipped {self.skipped_invalid} invalid lines"
        return text + "."


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _select_in(
    model: type[models.Model],
    columns: list[str],
    key: str,
    keys: Iterable,
    *,
    where: dict[str, Any] | None = None,
) -> list[tuple]:
    """SELECT columns WHERE key IN keys (chunked), in plain SQL: the ORM's per-parameter
    processing of large IN lists cost more than the queries themselves."""
    meta, qn = model._meta, connection.ops.quote_name
    select = ", ".join(qn(meta.get_field(c).column) for c in columns)
    conditions = [f"{qn(meta.get_field(c).column)} = %s" for c in (where or {})]
    fixed = list((where or {}).values())
    keys = sorted(set(keys))
    if not keys:
        return []
    column = qn(meta.get_field(key).column)
    found: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter: PostgreSQL plans `= ANY(array)` as one index scan.
            sql = f"SELECT {select} FROM {qn(meta.db_table)} WHERE {' AND '.join([*conditions, f'{column} = ANY(%s)'])}"
            cursor.execute(sql, [*fixed, keys])
            return cursor.fetchall()
        for chunk in _chunks(keys, LOOKUP_CHUNK):
            in_list = f"{column} IN ({', '.join(['%s'] * len(chunk))})"
            sql = f"SELECT {select} FROM {qn(meta.db_table)} WHERE {' AND '.join([*conditions, in_list])}"
            cursor.execute(sql, [*fixed, *chunk])
            found.extend(cursor.fetchall())
    return found


def _insert(model: type[models.Model], columns: list[str], rows: list[tuple], bar: tqdm) -> None:
    """INSERT rows (tuples in `columns` order) with executemany, inside the caller's transaction.

    Fields not named get their model default, so a field added later does not break imports.
    """
    if not rows:
        return
    meta = model._meta
    named = [meta.get_field(name) for name in columns]
    others = [f for f in meta.concrete_fields if not f.primary_key and f not in named]
    fields = named + others
    defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in others)
    qn = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        qn(meta.db_table), ", ".join(qn(f.column) for f in fields), ", ".join(["%s"] * len(fields))
    )
    # Only JSON and datetime values need the backend's adaptation; the rest go as they are.
    preps: list[Callable[[Any], Any] | None] = [_prep_for(f) for f in named]
    prepped = [(i, p) for i, p in enumerate(preps) if p is not None]
    copy_sql = "COPY {} ({}) FROM STDIN".format(qn(meta.db_table), ", ".join(qn(f.column) for f in fields))
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, INSERT_CHUNK):
            values = []
            for row in chunk:
                row = list(row)
                for i, prep in prepped:
                    row[i] = prep(row[i])
                values.append((*row, *defaults))
            if connection.vendor == "postgresql":
                # COPY is several times faster than even pipelined INSERTs (psycopg 3).
                with cursor.copy(copy_sql) as copy:
                    for value in values:
                        copy.write_row(value)
            else:
                cursor.executemany(sql, values)
            bar.update(len(chunk))


def _prep_for(field: models.Field) -> Callable[[Any], Any] | None:
    if isinstance(field, models.JSONField):
        encoder, adapt = field.encoder, connection.ops.adapt_json_value  # looked up once, not per row
        return lambda v: None if v is None else adapt(v, encoder)
    if isinstance(field, models.DateTimeField):
        # Every row of an import carries the same timestamp: adapt it once.
        cache: dict[Any, Any] = {}

        def prep(v: Any) -> Any:
            if v not in cache:
                cache[v] = field.get_db_prep_save(v, connection)
            return cache[v]

        return prep
    return None


def _judgment_import_key(project: Project, prompt_hash: str, chosen_hash: str, rejected_hash: str) -> str:
    # The project is part of it: import keys are unique across projects. 64 characters: the column.
    # (Before migration 0008 this was the client_id; the migration copied it here.)
    return "ext-" + content_hash("preference", project.pk, prompt_hash, chosen_hash, rejected_hash)[:60]


def _response_hash(spec: ResponseSpec) -> str:
    return content_hash(spec.messages) if spec.messages else content_hash(spec.text)


def records_write(
    *,
    project: Project,
    parsed: ParsedFile,
    fmt: str,
    filename: str,
    created_by: AbstractBaseUser | None = None,
    default_split: str = Prompt.Split.TRAIN,
    show_progress: bool = False,
) -> ImportResult:
    """Write validated records in one transaction; rows that already exist are reused."""
    records = parsed.records
    source_label = Path(filename).name[:200]
    now = timezone.now()
    with transaction.atomic():
        # --- prompts
        prompt_hash = [content_hash(r.messages) for r in records]
        first_by_hash: dict[str, Record] = {}
        for ph, r in zip(prompt_hash, records, strict=True):
            first_by_hash.setdefault(ph, r)

        def prompt_lookup(hashes: Iterable[str]) -> list[tuple]:
            return _select_in(
                Prompt, ["content_hash", "id"], "content_hash", hashes, where={"project": project.pk}
            )

        prompt_ids: dict[str, int] = dict(prompt_lookup(first_by_hash))
        new_prompts = [
            (
                project.pk,
                r.messages,
                r.reference_answer,
                r.tags,
                r.source or source_label,
                r.split or default_split,
                ph,
                now,
            )
            for ph, r in first_by_hash.items()
            if ph not in prompt_ids
        ]
        response_hash = [[_response_hash(spec) for spec in r.responses] for r in records]
        wanted_responses: dict[tuple[str, str], ResponseSpec] = {}
        for ph, hashes, r in zip(prompt_hash, response_hash, records, strict=True):
            for rh, spec in zip(hashes, r.responses, strict=True):
                wanted_responses.setdefault((ph, rh), spec)
        n_preferences = sum(1 for r in records if r.preference)
        bar = tqdm(
            total=len(new_prompts) + len(wanted_responses) + 2 * n_preferences,
            desc="writing",
            unit=" rows",
            disable=not show_progress,
            file=sys.stderr,
            mininterval=0.5,
        )
        _insert(
            Prompt,
            [
                "project",
                "messages",
                "reference_answer",
                "tags",
                "source",
                "split",
                "content_hash",
                "created_at",
            ],
            new_prompts,
            bar,
        )
        if new_prompts:
            prompt_ids.update(prompt_lookup(row[6] for row in new_prompts))

        # --- responses
        def response_lookup(ids: Iterable[int]) -> list[tuple]:
            return _select_in(Response, ["prompt", "content_hash", "id"], "prompt", ids)

        touched_prompts = {prompt_ids[ph] for ph in first_by_hash}
        response_ids = {(pid, rh): rid for pid, rh, rid in response_lookup(touched_prompts)}
        new_responses = [
            (prompt_ids[ph], spec.text, spec.messages, spec.model_name, spec.params, spec.seed, rh, now)
            for (ph, rh), spec in wanted_responses.items()
            if (prompt_ids[ph], rh) not in response_ids
        ]
        _insert(
            Response,
            [
                "prompt",
                "text",
                "messages",
                "model_name",
                "generation_params",
                "seed",
                "content_hash",
                "created_at",
            ],
            new_responses,
            bar,
        )
        if new_responses:
            response_ids.update(
                {(pid, rh): rid for pid, rh, rid in response_lookup({row[0] for row in new_responses})}
            )

        # --- comparisons
        prefs: list[tuple[str, str, str, int, int, int]] = []  # hashes (prompt, chosen, rejected), ids
        for ph, hashes, r in zip(prompt_hash, response_hash, records, strict=True):
            if r.preference is not None:
                pid = prompt_ids[ph]
                ch, rh = hashes[r.preference[0]], hashes[r.preference[1]]
                prefs.append((ph, ch, rh, pid, response_ids[(pid, ch)], response_ids[(pid, rh)]))

        def comparison_lookup(ids: Iterable[int]) -> list[tuple]:
            return _select_in(Comparison, ["response_a", "response_b", "id"], "prompt", ids)

        pref_prompts = {pid for _, _, _, pid, _, _ in prefs}
        pairs = {frozenset((a, b)): (cid, a) for a, b, cid in comparison_lookup(pref_prompts)}
        wanted_pairs = {frozenset((c, r)) for *_, c, r in prefs}
        new_pairs: dict[frozenset[int], tuple] = {}
        for _ph, ch, rh, pid, chosen_id, rejected_id in prefs:
            key = frozenset((chosen_id, rejected_id))
            if key not in pairs and key not in new_pairs:
                a, b = (chosen_id, rejected_id) if ch < rh else (rejected_id, chosen_id)
                new_pairs[key] = (project.pk, pid, a, b, 0, False, "", 0, now, project.overlap_k > 0)
        _insert(
            Comparison,
            [
                "project",
                "prompt",
                "response_a",
                "response_b",
                "priority",
                "is_gold",
                "gold_choice",
                "judgment_count",
                "created_at",
                "is_open",
            ],
            list(new_pairs.values()),
            bar,
        )
        if new_pairs:
            pairs.update(
                {
                    frozenset((a, b)): (cid, a)
                    for a, b, cid in comparison_lookup({row[1] for row in new_pairs.values()})
                }
            )

        # --- external judgments
        wanted_judgments: dict[str, tuple] = {}
        duplicate_lines = 0
        for ph, ch, rh, _pid, chosen_id, rejected_id in prefs:
            import_key = _judgment_import_key(project, ph, ch, rh)
            if import_key in wanted_judgments:
                duplicate_lines += 1
                continue
            cid, response_a_id = pairs[frozenset((chosen_id, rejected_id))]
            # Stored as if shown in stored order (AB), so A means response_a.
            choice = Choice.A if response_a_id == chosen_id else Choice.B
            wanted_judgments[import_key] = (
                cid,
                Judgment.Source.EXTERNAL.value,
                choice.value,
                "",
                SideOrder.AB.value,
                chosen_id,
                import_key,
                f"import-{uuid.uuid4().hex}",
                now,
            )
        existing_judgments = {
            key for (key,) in _select_in(Judgment, ["import_key"], "import_key", wanted_judgments)
        }
        new_judgments = [row for key, row in wanted_judgments.items() if key not in existing_judgments]
        _insert(
            Judgment,
            [
                "comparison",
                "source",
                "choice",
                "rationale",
                "side_order",
                "winner",
                "import_key",
                "client_id",
                "created_at",
            ],
            new_judgments,
            bar,
        )
        bar.close()

        created = {
            "prompts": len(new_prompts),
            "responses": len(new_responses),
            "comparisons": len(new_pairs),
            "judgments": len(new_judgments),
        }
        existing = {
            "prompts": len(first_by_hash) - len(new_prompts),
            "responses": len(wanted_responses) - len(new_responses),
            "comparisons": len(wanted_pairs) - len(new_pairs),
            "judgments": len(existing_judgments),
        }
        batch = ImportBatch.objects.create(
            project=project,
            format=fmt,
            filename=filename[:500],
            file_hash=parsed.file_hash,
            lines=parsed.lines,
            created_counts={
                **created,
                "existing": existing,
                "skipped_identical": parsed.skipped_identical,
                "duplicate_lines": duplicate_lines,
                "skipped_invalid": parsed.skipped_invalid,
            },
            created_by=created_by,
        )
    return ImportResult(
        batch=batch,
        lines=parsed.lines,
        created=created,
        existing=existing,
        skipped_identical=parsed.skipped_identical,
        duplicate_lines=duplicate_lines,
        skipped_invalid=parsed.skipped_invalid,
    )


def data_import(
    *,
    project: Project,
    source: str | Path | IO[bytes],
    fmt: str,
    filename: str | None = None,
    created_by: AbstractBaseUser | None = None,
    default_split: str = Prompt.Split.TRAIN,
    show_progress: bool = False,
    skip_invalid: bool = False,
) -> ImportResult:
    """Validate a whole JSONL(.gz) file, then write it in one transaction.

    Raises ImportFileError (nothing written) naming the first bad lines; with skip_invalid, bad
    lines are left out and counted instead.
    """
    if default_split not in Prompt.Split.values:
        raise PairwiseError(f"split must be train or heldout; got {default_split!r}.")
    if filename is None:
        filename = str(source) if isinstance(source, str | Path) else getattr(source, "name", "") or "upload"
    parsed = parse_records(source, fmt=fmt, show_progress=show_progress, skip_invalid=skip_invalid)
    return records_write(
        project=project,
        parsed=parsed,
        fmt=fmt,
        filename=filename,
        created_by=created_by,
        default_split=default_split,
        show_progress=show_progress,
    )
