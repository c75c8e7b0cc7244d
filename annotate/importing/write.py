"""Write imported records: one transaction, found-again-by-content so a re-import adds nothing.

The formats and their validation live in annotate/importing/parse.py (no database there). Here:
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
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.utils import timezone
from tqdm import tqdm

from annotate.importing.parse import ParsedFile, Record, ResponseSpec, parse_records
from annotate.models import (
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
from pairwise.errors import PairwiseError

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


# --- rows as inserted: each NamedTuple's fields are the model's field names, in column order -----


class PromptRow(NamedTuple):
    project: int
    messages: list
    reference_answer: str
    tags: list
    source: str
    split: str
    content_hash: str
    created_at: datetime


class ResponseRow(NamedTuple):
    prompt: int
    text: str
    messages: list | None
    model_name: str
    generation_params: dict | None
    seed: int | None
    content_hash: str
    created_at: datetime


class ComparisonRow(NamedTuple):
    project: int
    prompt: int
    response_a: int
    response_b: int
    priority: int
    is_gold: bool
    gold_choice: str
    judgment_count: int
    created_at: datetime
    is_open: bool  # Comparison.is_open: not gold, judgment_count < overlap_k


class JudgmentRow(NamedTuple):
    comparison: int
    source: str
    choice: str
    rationale: str
    side_order: str
    winner: int
    import_key: str
    client_id: str
    created_at: datetime


class Preference(NamedTuple):
    """One record's preference, by content hash and by the ids its rows got."""

    prompt_hash: str
    chosen_hash: str
    rejected_hash: str
    prompt_id: int
    chosen_id: int
    rejected_id: int


@dataclass(frozen=True)
class HashedRecords:
    """The records with their content hashes, and the distinct prompts and responses they name."""

    records: list[Record]
    prompt_hashes: list[str]  # one per record
    response_hashes: list[list[str]]  # one per response of each record
    prompts: dict[str, Record]  # prompt hash -> the first record with that prompt
    responses: dict[tuple[str, str], ResponseSpec]  # (prompt hash, response hash) -> first spec

    @classmethod
    def of(cls, records: list[Record]) -> HashedRecords:
        prompt_hashes = [content_hash(r.messages) for r in records]
        response_hashes = [[_response_hash(spec) for spec in r.responses] for r in records]
        prompts: dict[str, Record] = {}
        responses: dict[tuple[str, str], ResponseSpec] = {}
        for ph, hashes, r in zip(prompt_hashes, response_hashes, records, strict=True):
            prompts.setdefault(ph, r)
            for rh, spec in zip(hashes, r.responses, strict=True):
                responses.setdefault((ph, rh), spec)
        return cls(records, prompt_hashes, response_hashes, prompts, responses)


@dataclass(frozen=True)
class Written:
    """One table's part of an import: the ids of the rows it needs, and how many were new."""

    ids: dict[Any, Any]
    created: int
    existing: int


def _prompts_write(
    *, project: Project, hashed: HashedRecords, source: str, default_split: str, now: datetime, bar: tqdm
) -> Written:
    """Prompts by content hash; a prompt that exists is left as it is. ids: prompt hash -> id."""

    def lookup(hashes: Iterable[str]) -> list[tuple]:
        return _select_in(
            Prompt, ["content_hash", "id"], "content_hash", hashes, where={"project": project.pk}
        )

    ids: dict[str, int] = dict(lookup(hashed.prompts))
    rows = [
        PromptRow(
            project=project.pk,
            messages=r.messages,
            reference_answer=r.reference_answer,
            tags=r.tags,
            source=r.source or source,
            split=r.split or default_split,
            content_hash=ph,
            created_at=now,
        )
        for ph, r in hashed.prompts.items()
        if ph not in ids
    ]
    bar.total += len(rows)
    _insert(Prompt, list(PromptRow._fields), rows, bar)
    if rows:
        ids.update(lookup(row.content_hash for row in rows))
    return Written(ids=ids, created=len(rows), existing=len(hashed.prompts) - len(rows))


def _responses_write(
    *, hashed: HashedRecords, prompt_ids: dict[str, int], now: datetime, bar: tqdm
) -> Written:
    """Responses by content hash within their prompt. ids: (prompt id, response hash) -> id."""

    def lookup(ids: Iterable[int]) -> dict[tuple[int, str], int]:
        return {
            (pid, rh): rid
            for pid, rh, rid in _select_in(Response, ["prompt", "content_hash", "id"], "prompt", ids)
        }

    ids = lookup({prompt_ids[ph] for ph in hashed.prompts})
    rows = [
        ResponseRow(
            prompt=prompt_ids[ph],
            text=spec.text,
            messages=spec.messages,
            model_name=spec.model_name,
            generation_params=spec.params,
            seed=spec.seed,
            content_hash=rh,
            created_at=now,
        )
        for (ph, rh), spec in hashed.responses.items()
        if (prompt_ids[ph], rh) not in ids
    ]
    _insert(Response, list(ResponseRow._fields), rows, bar)
    if rows:
        ids.update(lookup({row.prompt for row in rows}))
    return Written(ids=ids, created=len(rows), existing=len(hashed.responses) - len(rows))


def _preferences(
    hashed: HashedRecords, prompt_ids: dict[str, int], response_ids: dict[tuple[int, str], int]
) -> list[Preference]:
    prefs: list[Preference] = []
    for ph, hashes, r in zip(hashed.prompt_hashes, hashed.response_hashes, hashed.records, strict=True):
        if r.preference is not None:
            pid = prompt_ids[ph]
            ch, rh = hashes[r.preference[0]], hashes[r.preference[1]]
            prefs.append(Preference(ph, ch, rh, pid, response_ids[(pid, ch)], response_ids[(pid, rh)]))
    return prefs


def _comparisons_write(*, project: Project, prefs: list[Preference], now: datetime, bar: tqdm) -> Written:
    """One comparison per unordered pair; response_a has the smaller content hash.
    ids: frozenset of the two response ids -> (comparison id, response_a id)."""

    def lookup(ids: Iterable[int]) -> dict[frozenset[int], tuple[int, int]]:
        found = _select_in(Comparison, ["response_a", "response_b", "id"], "prompt", ids)
        return {frozenset((a, b)): (cid, a) for a, b, cid in found}

    pairs = lookup({p.prompt_id for p in prefs})
    wanted = {frozenset((p.chosen_id, p.rejected_id)) for p in prefs}
    new: dict[frozenset[int], ComparisonRow] = {}
    for p in prefs:
        key = frozenset((p.chosen_id, p.rejected_id))
        if key not in pairs and key not in new:
            a, b = (
                (p.chosen_id, p.rejected_id)
                if p.chosen_hash < p.rejected_hash
                else (p.rejected_id, p.chosen_id)
            )
            new[key] = ComparisonRow(
                project=project.pk,
                prompt=p.prompt_id,
                response_a=a,
                response_b=b,
                priority=0,
                is_gold=False,
                gold_choice="",
                judgment_count=0,
                created_at=now,
                is_open=project.overlap_k > 0,
            )
    _insert(Comparison, list(ComparisonRow._fields), list(new.values()), bar)
    if new:
        pairs.update(lookup({row.prompt for row in new.values()}))
    return Written(ids=pairs, created=len(new), existing=len(wanted) - len(new))


class JudgmentsWritten(NamedTuple):
    created: int
    existing: int
    duplicate_lines: int  # a preference repeated inside the file is one judgment


def _judgments_write(
    *,
    project: Project,
    prefs: list[Preference],
    pairs: dict[frozenset[int], tuple[int, int]],
    now: datetime,
    bar: tqdm,
) -> JudgmentsWritten:
    """External judgments, found again by import_key (the project and the content)."""
    wanted: dict[str, JudgmentRow] = {}
    duplicate_lines = 0
    for p in prefs:
        import_key = _judgment_import_key(project, p.prompt_hash, p.chosen_hash, p.rejected_hash)
        if import_key in wanted:
            duplicate_lines += 1
            continue
        cid, response_a_id = pairs[frozenset((p.chosen_id, p.rejected_id))]
        # Stored as if shown in stored order (AB), so A means response_a.
        choice = Choice.A if response_a_id == p.chosen_id else Choice.B
        wanted[import_key] = JudgmentRow(
            comparison=cid,
            source=Judgment.Source.EXTERNAL.value,
            choice=choice.value,
            rationale="",
            side_order=SideOrder.AB.value,
            winner=p.chosen_id,
            import_key=import_key,
            client_id=f"import-{uuid.uuid4().hex}",
            created_at=now,
        )
    existing = {key for (key,) in _select_in(Judgment, ["import_key"], "import_key", wanted)}
    rows = [row for key, row in wanted.items() if key not in existing]
    _insert(Judgment, list(JudgmentRow._fields), rows, bar)
    return JudgmentsWritten(created=len(rows), existing=len(existing), duplicate_lines=duplicate_lines)


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
    hashed = HashedRecords.of(parsed.records)
    n_preferences = sum(1 for r in parsed.records if r.preference)
    now = timezone.now()
    with transaction.atomic():
        bar = tqdm(
            total=len(hashed.responses) + 2 * n_preferences,  # the new prompts are added once known
            desc="writing",
            unit=" rows",
            disable=not show_progress,
            file=sys.stderr,
            mininterval=0.5,
        )
        prompts = _prompts_write(
            project=project,
            hashed=hashed,
            source=Path(filename).name[:200],
            default_split=default_split,
            now=now,
            bar=bar,
        )
        responses = _responses_write(hashed=hashed, prompt_ids=prompts.ids, now=now, bar=bar)
        prefs = _preferences(hashed, prompts.ids, responses.ids)
        comparisons = _comparisons_write(project=project, prefs=prefs, now=now, bar=bar)
        judgments = _judgments_write(project=project, prefs=prefs, pairs=comparisons.ids, now=now, bar=bar)
        bar.close()

        created = {
            "prompts": prompts.created,
            "responses": responses.created,
            "comparisons": comparisons.created,
            "judgments": judgments.created,
        }
        existing = {
            "prompts": prompts.existing,
            "responses": responses.existing,
            "comparisons": comparisons.existing,
            "judgments": judgments.existing,
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
                "duplicate_lines": judgments.duplicate_lines,
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
        duplicate_lines=judgments.duplicate_lines,
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
    on_progress: Callable[[int, int, str], None] | None = None,
) -> ImportResult:
    """Validate a whole JSONL(.gz) file, then write it in one transaction.

    Raises ImportFileError (nothing written) naming the first bad lines; with skip_invalid, bad
    lines are left out and counted instead. `on_progress(done, total, message)` hears of the two
    steps (checking the file, writing it).
    """
    if default_split not in Prompt.Split.values:
        raise PairwiseError(f"split must be train or heldout; got {default_split!r}.")
    if filename is None:
        filename = str(source) if isinstance(source, str | Path) else getattr(source, "name", "") or "upload"
    if on_progress:
        on_progress(0, 2, f"checking {Path(filename).name}")
    parsed = parse_records(source, fmt=fmt, show_progress=show_progress, skip_invalid=skip_invalid)
    if on_progress:
        on_progress(1, 2, f"writing {len(parsed.records)} records from {parsed.lines} lines")
    return records_write(
        project=project,
        parsed=parsed,
        fmt=fmt,
        filename=filename,
        created_by=created_by,
        default_split=default_split,
        show_progress=show_progress,
    )
