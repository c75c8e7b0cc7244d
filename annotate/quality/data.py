"""One query per report: the columns the quality figures need, as numpy arrays.

A report over a million judgments cannot afford a Python object per row, so the query returns
small integers and floats only (outcome codes are computed in SQL) and everything after it is
vectorized numpy. On PostgreSQL the rows come through a binary COPY read straight into a numpy
buffer; elsewhere (SQLite) through an ordinary cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import connection

from annotate.models import Comparison, Judgment, Project

# Outcome of a judgment in stored order: 0 response_a won, 1 response_b won, 2 tie, 3 both bad.
_OUTCOME_SQL = """
    CASE WHEN j.winner_id IS NULL THEN (CASE WHEN j.choice = 'tie' THEN 2 ELSE 3 END)
         WHEN j.winner_id = c.response_a_id THEN 0 ELSE 1 END
"""
# Choice as shown: 0 A (left), 1 B (right), 2 tie, 3 both bad.
_SHOWN_SQL = "CASE j.choice WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'tie' THEN 2 ELSE 3 END"
# gold_choice is in STORED order ("A" means response_a is right), so it maps onto outcome codes.
_GOLD_SQL = (
    "CASE WHEN NOT c.is_gold THEN -1 ELSE "
    "(CASE c.gold_choice WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'tie' THEN 2 WHEN 'both_bad' THEN 3 "
    "ELSE -1 END) END"
)

_FIELDS = ("id", "comparison", "labeler", "outcome", "shown", "seconds", "created", "is_gold", "gold")
# Binary COPY row layout (big-endian): int16 field count, then (int32 length, value) per field.
_COPY_DTYPE = np.dtype(
    [("nfields", ">i2")]
    + [
        item
        for name, kind in zip(
            _FIELDS, (">i8", ">i8", ">i8", ">i4", ">i4", ">f8", ">f8", ">i4", ">i4"), strict=True
        )
        for item in ((f"{name}_len", ">i4"), (name, kind))
    ]
)


@dataclass
class JudgmentColumns:
    """Human judgments of one project, one array per column, sorted by judgment id."""

    id: np.ndarray  # int64
    comparison: np.ndarray  # int64
    labeler: np.ndarray  # int64
    outcome: np.ndarray  # int8, codes of annotate.quality.OUTCOMES
    shown: np.ndarray  # int8, codes of annotate.quality.SHOWN
    seconds: np.ndarray  # float64, NaN where the client sent none
    created: np.ndarray  # float64, seconds since the epoch (UTC)
    is_gold: np.ndarray  # bool
    gold: np.ndarray  # int8, the gold answer as an outcome code; -1 where none

    def __len__(self) -> int:
        return len(self.id)

    def take(self, mask: np.ndarray) -> JudgmentColumns:
        return JudgmentColumns(**{name: getattr(self, name)[mask] for name in _FIELDS})


def _sql(vendor: str) -> str:
    if vendor == "postgresql":
        epoch = "EXTRACT(EPOCH FROM j.created_at)::float8"
        seconds = "COALESCE(j.seconds_on_task, 'NaN'::float8)"
        gold_flag = "c.is_gold::int4"
    else:  # SQLite stores UTC datetimes as text; julianday() reads them.
        epoch = "(julianday(j.created_at) - 2440587.5) * 86400.0"
        seconds = "j.seconds_on_task"
        gold_flag = "c.is_gold"
    return f"""
        SELECT j.id::int8, j.comparison_id::int8, j.labeler_id::int8,
               ({_OUTCOME_SQL})::int4, ({_SHOWN_SQL})::int4, {seconds}, {epoch}, {gold_flag}, ({_GOLD_SQL})::int4
        FROM {Judgment._meta.db_table} j
        JOIN {Comparison._meta.db_table} c ON c.id = j.comparison_id
        WHERE c.project_id = %s AND j.labeler_id IS NOT NULL
        ORDER BY j.id
    """


def _sqlite_sql() -> str:
    # SQLite has no ::casts; strip them from the shared statement.
    sql = _sql("sqlite")
    for cast in ("::int8", "::int4", "::float8"):
        sql = sql.replace(cast, "")
    return sql


def _empty() -> JudgmentColumns:
    return JudgmentColumns(
        id=np.zeros(0, np.int64),
        comparison=np.zeros(0, np.int64),
        labeler=np.zeros(0, np.int64),
        outcome=np.zeros(0, np.int8),
        shown=np.zeros(0, np.int8),
        seconds=np.zeros(0, np.float64),
        created=np.zeros(0, np.float64),
        is_gold=np.zeros(0, bool),
        gold=np.zeros(0, np.int8),
    )


def _from_copy(project_id: int) -> JudgmentColumns:
    sql = _sql("postgresql").replace("%s", str(int(project_id)))
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy:
            for block in copy:
                chunks.append(bytes(block))
    buf = b"".join(chunks)
    # 19-byte signature + flags + extension length header, then rows, then a 2-byte trailer (-1).
    body = buf[19:-2]
    if not body:
        return _empty()
    rows = np.frombuffer(body, dtype=_COPY_DTYPE)
    return JudgmentColumns(
        id=rows["id"].astype(np.int64),
        comparison=rows["comparison"].astype(np.int64),
        labeler=rows["labeler"].astype(np.int64),
        outcome=rows["outcome"].astype(np.int8),
        shown=rows["shown"].astype(np.int8),
        seconds=rows["seconds"].astype(np.float64),
        created=rows["created"].astype(np.float64),
        is_gold=rows["is_gold"].astype(bool),
        gold=rows["gold"].astype(np.int8),
    )


def _from_cursor(project_id: int) -> JudgmentColumns:
    with connection.cursor() as cursor:
        cursor.execute(_sqlite_sql(), [project_id])
        rows = cursor.fetchall()
    if not rows:
        return _empty()
    arr = np.array(rows, dtype=np.float64)  # NULL seconds become NaN
    return JudgmentColumns(
        id=arr[:, 0].astype(np.int64),
        comparison=arr[:, 1].astype(np.int64),
        labeler=arr[:, 2].astype(np.int64),
        outcome=arr[:, 3].astype(np.int8),
        shown=arr[:, 4].astype(np.int8),
        seconds=arr[:, 5],
        created=arr[:, 6],
        is_gold=arr[:, 7].astype(bool),
        gold=arr[:, 8].astype(np.int8),
    )


def judgment_columns(*, project: Project) -> JudgmentColumns:
    """Every human judgment of the project (external imports have no labeler and are left out)."""
    if connection.vendor == "postgresql":
        return _from_copy(project.pk)
    return _from_cursor(project.pk)
