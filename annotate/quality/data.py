"""One query per report: the columns the quality figures need, as numpy arrays.

A report over a million judgments cannot afford a Python object per row, so the query returns
small integers and floats only (outcome codes are computed in SQL) and everything after it is
vectorized numpy. On PostgreSQL the rows arrive packed in one binary value read straight into a
numpy buffer; elsewhere (SQLite) through an ordinary cursor.
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

_FIELDS = (
    "id",
    "comparison",
    "labeler",
    "outcome",
    "shown",
    "seconds",
    "created",
    "is_gold",
    "gold",
    "simulated",
)
_DTYPES = (np.int64, np.int64, np.int64, np.int8, np.int8, np.float64, np.float64, bool, np.int8, bool)

# PostgreSQL packs each row into fixed-width big-endian bytes and string_agg joins them into one
# bytea: a single result value, read with np.frombuffer. (A binary COPY hands rows to Python one
# at a time, which alone takes seconds for a million rows.) The judgment rows carry raw columns
# only (the winner id, the first letter of the choice); the outcome codes are worked out in
# numpy against the comparisons, fetched the same way. That keeps PostgreSQL's per-row work, the
# bulk of the time, to a few function calls.
_JUDGMENT_DTYPE = np.dtype(
    [
        ("id", ">i8"),
        ("comparison", ">i8"),
        ("labeler", ">i4"),
        ("created", ">f8"),
        ("seconds", ">f4"),
        ("winner", ">i8"),
        ("letter", ">i2"),
        ("source", ">i2"),  # first letter of Judgment.source: "s" for simulated
    ]
)
_COMPARISON_DTYPE = np.dtype([("id", ">i8"), ("response_a", ">i8"), ("gold", ">i2")])
# Per comparison: -2 not gold, -1 gold without an answer, else the answer as an outcome code.
_GOLD_CODE_SQL = (
    "(CASE WHEN NOT is_gold THEN -2 WHEN gold_choice = 'A' THEN 0 WHEN gold_choice = 'B' THEN 1 "
    "WHEN gold_choice = 'tie' THEN 2 WHEN gold_choice = 'both_bad' THEN 3 ELSE -1 END)::int2"
)
# First letter of Judgment.choice -> shown code: A 0, B 1, tie 2, both_bad 3.
_SHOWN_OF_LETTER = np.full(128, 3, np.int8)
_SHOWN_OF_LETTER[[ord("A"), ord("B"), ord("t"), ord("b")]] = [0, 1, 2, 3]


@dataclass
class JudgmentColumns:
    """Judgments by labelers (people and simulated ones) of one project, one array per column, in
    judgment id order."""

    id: np.ndarray  # int64
    comparison: np.ndarray  # int64
    labeler: np.ndarray  # int64
    outcome: np.ndarray  # int8, codes of annotate.quality.OUTCOMES
    shown: np.ndarray  # int8, codes of annotate.quality.SHOWN
    seconds: np.ndarray  # float64, NaN where the client sent none
    created: np.ndarray  # float64, seconds since the epoch (UTC)
    is_gold: np.ndarray  # bool
    gold: np.ndarray  # int8, the gold answer as an outcome code; -1 where none
    simulated: np.ndarray  # bool, made by a simulated labeler (Judgment.Source.SIMULATED)

    def __len__(self) -> int:
        return len(self.id)

    def take(self, mask: np.ndarray) -> JudgmentColumns:
        return JudgmentColumns(**{name: getattr(self, name)[mask] for name in _FIELDS})


def _empty() -> JudgmentColumns:
    return JudgmentColumns(
        **{name: np.zeros(0, dtype=kind) for name, kind in zip(_FIELDS, _DTYPES, strict=True)}
    )


def _packed(sql: str, params: list, dtype: np.dtype) -> np.ndarray:
    import psycopg

    connection.ensure_connection()
    # Django's cursors bind parameters client-side, which rules out binary results; a plain
    # psycopg cursor on the same connection returns the bytea as raw bytes.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        (buf,) = cursor.fetchone()
    return np.frombuffer(buf, dtype=dtype) if buf else np.zeros(0, dtype=dtype)


def _from_postgresql(project_id: int) -> JudgmentColumns:
    j_table, c_table = Judgment._meta.db_table, Comparison._meta.db_table
    rows = _packed(
        f"""
        SELECT string_agg(
            int8send(j.id) || int8send(j.comparison_id) || int4send(j.labeler_id)
            || float8send(date_part('epoch', j.created_at))
            || float4send(COALESCE(j.seconds_on_task, 'NaN')::float4)
            || int8send(COALESCE(j.winner_id, 0)) || int2send(ascii(j.choice)::int2)
            || int2send(ascii(j.source)::int2),
            ''::bytea)
        FROM {j_table} j
        WHERE j.comparison_id IN (SELECT id FROM {c_table} WHERE project_id = %s) AND j.labeler_id IS NOT NULL
        """,
        [project_id],
        _JUDGMENT_DTYPE,
    )
    # Read after the judgments: a comparison created in between is merely unused; one deleted in
    # between (its judgments with it) is dropped below.
    comparisons = _packed(
        f"""
        SELECT string_agg(int8send(id) || int8send(response_a_id) || int2send({_GOLD_CODE_SQL}), ''::bytea)
        FROM {c_table} WHERE project_id = %s
        """,
        [project_id],
        _COMPARISON_DTYPE,
    )
    if len(rows) == 0:
        return _empty()
    # Back in id order (the scan order is nearly that already, so this stable sort is quick):
    # ties between equal timestamps then break the same way on every run.
    rows = rows[np.argsort(rows["id"], kind="stable")]
    c_ids = comparisons["id"].astype(np.int64)
    order = np.argsort(c_ids)
    j_cmp = rows["comparison"].astype(np.int64)
    pos = np.minimum(np.searchsorted(c_ids, j_cmp, sorter=order), len(c_ids) - 1)
    idx = order[pos]
    found = c_ids[idx] == j_cmp
    if not found.all():
        rows, idx, j_cmp = rows[found], idx[found], j_cmp[found]
    shown = _SHOWN_OF_LETTER[np.clip(rows["letter"], 0, 127)]
    winner = rows["winner"].astype(np.int64)
    outcome = np.where(
        winner == 0, np.where(shown == 2, 2, 3), np.where(winner == comparisons["response_a"][idx], 0, 1)
    )
    gold = comparisons["gold"][idx].astype(np.int8)
    return JudgmentColumns(
        id=rows["id"].astype(np.int64),
        comparison=j_cmp,
        labeler=rows["labeler"].astype(np.int64),
        outcome=outcome.astype(np.int8),
        shown=shown,
        seconds=rows["seconds"].astype(np.float64),
        created=rows["created"].astype(np.float64),
        is_gold=gold > -2,
        gold=np.maximum(gold, -1).astype(np.int8),
        simulated=rows["source"] == ord(Judgment.Source.SIMULATED[0]),
    )


_SQLITE_SQL = f"""
    SELECT j.id, j.comparison_id, j.labeler_id, {_OUTCOME_SQL}, {_SHOWN_SQL}, j.seconds_on_task,
           (julianday(j.created_at) - 2440587.5) * 86400.0, c.is_gold, {_GOLD_SQL},
           j.source = '{Judgment.Source.SIMULATED}'
    FROM {Judgment._meta.db_table} j
    JOIN {Comparison._meta.db_table} c ON c.id = j.comparison_id
    WHERE c.project_id = %s AND j.labeler_id IS NOT NULL
    ORDER BY j.id
"""


def _from_cursor(project_id: int) -> JudgmentColumns:
    """SQLite (and any other backend): an ordinary cursor; fine at the sizes SQLite serves."""
    with connection.cursor() as cursor:
        cursor.execute(_SQLITE_SQL, [project_id])
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
        simulated=arr[:, 9].astype(bool),
    )


def judgment_columns(*, project: Project) -> JudgmentColumns:
    """Every judgment by a labeler, person or simulated, of the project (external imports have no
    labeler and are left out)."""
    if connection.vendor == "postgresql":
        return _from_postgresql(project.pk)
    return _from_cursor(project.pk)
