"""The statements every labeler call runs, written out in SQL once.

Why not the ORM here: building and compiling these queries (subqueries, Exists, annotations) took
about 60% of the server's CPU per judgment, more than the database itself (cProfile of the
next -> judge loop, bench/annotation_load.py). Written out, each costs one string format and one
execute. Only the statements of the labeler's hot path live here, each with a docstring saying what
it answers; everything else stays in the ORM. tests/annotate/test_statements.py checks each one
against the ORM query it replaced, on the same rows, on PostgreSQL and SQLite.

The locks are the ones annotate.services' docstring describes (FOR NO KEY UPDATE, OF the one table
meant, SKIP LOCKED for the pick); SQLite has none of them and serialises writers instead.
Datetimes go through connection.ops (SQLite stores naive UTC text, PostgreSQL timestamptz).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model

from annotate.models import (
    SIMULATED_GROUP,
    Assignment,
    Comparison,
    Judgment,
    LabelerExclusion,
    Project,
    Prompt,
    Response,
)

_COMPARISON = Comparison._meta.db_table
_ASSIGNMENT = Assignment._meta.db_table
_JUDGMENT = Judgment._meta.db_table
_EXCLUSION = LabelerExclusion._meta.db_table
_MEMBER = Project.labelers.through._meta.db_table
_PROJECT = Project._meta.db_table
_PROMPT = Prompt._meta.db_table
_RESPONSE = Response._meta.db_table
_USER = get_user_model()._meta.db_table
_USER_GROUPS = get_user_model().groups.through._meta.db_table
_GROUP = get_user_model().groups.field.related_model._meta.db_table

_ACTIVE = Assignment.State.ACTIVE.value
_CLOSED = (Assignment.State.SUBMITTED.value, Assignment.State.SKIPPED.value)

# The labeler's access to one project, as two columns (member, excluded); {project} names the
# project id column of the outer row.
_ACCESS = f"""
    EXISTS (SELECT 1 FROM {_MEMBER} m WHERE m.project_id = {{project}} AND m.user_id = %s)
        AS labeler_is_member,
    EXISTS (SELECT 1 FROM {_EXCLUSION} x
            WHERE x.project_id = {{project}} AND x.labeler_id = %s AND x.lifted_at IS NULL)
        AS labeler_is_excluded"""

_SIMULATED = f"""
    EXISTS (SELECT 1 FROM {_USER_GROUPS} ug JOIN {_GROUP} g ON g.id = ug.group_id
            WHERE ug.user_id = %s AND g.name = %s)"""


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _db_datetime(value: datetime) -> object:
    return connection.ops.adapt_datetimefield_value(value)


def _run(sql: str, params: Sequence[object]) -> list[tuple]:
    """Run one statement; its rows (none for an UPDATE)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _one(sql: str, params: Sequence[object]) -> tuple | None:
    rows = _run(sql, params)
    return rows[0] if rows else None


def _from_row(model: type[Model], names: Sequence[str], values: Sequence[object]) -> Model:
    """An instance of `model` from raw column values (`names`: field attnames), each converted as
    the ORM converts a query's values (SQLite's datetimes are text, JSON is text on both
    databases). Fields not named are deferred: read from the database if asked for."""
    converted = []
    for name, value in zip(names, values, strict=True):
        field = model._meta.get_field(name)
        column = field.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + field.get_db_converters(connection):
            value = convert(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, names, converted)


_ASSIGNMENT_FIELDS = [f.attname for f in Assignment._meta.concrete_fields]
_ASSIGNMENT_COLUMNS = ", ".join(f"a.{f.column}" for f in Assignment._meta.concrete_fields)
_SHOWN_RESPONSE = ("id", "text", "messages")


def lease_shown(*, assignment_id: int) -> Assignment | None:
    """The assignment with what the labeler is shown loaded, in one statement: its comparison's
    prompt (messages) and two responses (text, messages). The comparison and those three carry
    only these fields; any other is read from the database if asked for. None if no such row."""
    row = _one(
        f"""SELECT {_ASSIGNMENT_COLUMNS},
                   c.prompt_id, c.response_a_id, c.response_b_id, pr.messages,
                   ra.text, ra.messages, rb.text, rb.messages
        FROM {_ASSIGNMENT} a
        JOIN {_COMPARISON} c ON c.id = a.comparison_id
        JOIN {_PROMPT} pr ON pr.id = c.prompt_id
        JOIN {_RESPONSE} ra ON ra.id = c.response_a_id
        JOIN {_RESPONSE} rb ON rb.id = c.response_b_id
        WHERE a.id = %s""",
        [assignment_id],
    )
    if row is None:
        return None
    n = len(_ASSIGNMENT_FIELDS)
    assignment = _from_row(Assignment, _ASSIGNMENT_FIELDS, row[:n])
    prompt_id, a_id, b_id, messages, a_text, a_messages, b_text, b_messages = row[n:]
    comparison = _from_row(
        Comparison,
        ["id", "prompt_id", "response_a_id", "response_b_id"],
        [assignment.comparison_id, prompt_id, a_id, b_id],
    )
    comparison.prompt = _from_row(Prompt, ["id", "messages"], [prompt_id, messages])
    comparison.response_a = _from_row(Response, _SHOWN_RESPONSE, [a_id, a_text, a_messages])
    comparison.response_b = _from_row(Response, _SHOWN_RESPONSE, [b_id, b_text, b_messages])
    assignment.comparison = comparison
    return assignment


def project_with_access(*, project_id: int, labeler_id: int) -> Project | None:
    """The project with two extra attributes, labeler_is_member and labeler_is_excluded; None if
    there is no such project."""
    return _project_where("p.id = %s", [project_id], labeler_id)


def project_of_assignment(*, assignment_id: int, labeler_id: int) -> Project | None:
    """The project of the labeler's own assignment, as project_with_access answers it; None when
    the assignment is not theirs (or does not exist)."""
    return _project_where(
        f"p.id = (SELECT a.project_id FROM {_ASSIGNMENT} a WHERE a.id = %s AND a.labeler_id = %s)",
        [assignment_id, labeler_id],
        labeler_id,
    )


def _project_where(where: str, params: Sequence[object], labeler_id: int) -> Project | None:
    # A raw queryset: the ORM's own row-to-model conversion.
    projects = Project.objects.raw(
        f"SELECT p.*, {_ACCESS.format(project='p.id')} FROM {_PROJECT} p WHERE {where}",
        [labeler_id, labeler_id, *params],
    )
    for project in projects:
        return project
    return None


def assignment_access(*, assignment_id: int, labeler_id: int) -> tuple[int, bool, bool, bool] | None:
    """(project id, member, excluded, simulated) for the labeler's own assignment, or None when it
    is not theirs (or does not exist). `simulated`: the labeler is in the simulated group, which
    decides the source their judgments are stored with."""
    row = _one(
        f"SELECT a.project_id, {_ACCESS.format(project='a.project_id')}, {_SIMULATED} "
        f"FROM {_ASSIGNMENT} a WHERE a.id = %s AND a.labeler_id = %s",
        [labeler_id, labeler_id, labeler_id, SIMULATED_GROUP, assignment_id, labeler_id],
    )
    if row is None:
        return None
    return row[0], bool(row[1]), bool(row[2]), bool(row[3])


def lock_labeler(*, labeler_id: int, project_id: int) -> bool:
    """Lock the labeler's user row; answers whether they are excluded from the project.

    Must not read the labeler's leases: this statement's snapshot predates the lock it waits for
    (annotate.services.comparison_assign_next says why)."""
    lock = " FOR NO KEY UPDATE" if _postgres() else ""
    row = _one(
        f"SELECT EXISTS (SELECT 1 FROM {_EXCLUSION} x WHERE x.project_id = %s AND x.labeler_id = u.id "
        f"AND x.lifted_at IS NULL) FROM {_USER} u WHERE u.id = %s{lock}",
        [project_id, labeler_id],
    )
    if row is None:
        raise get_user_model().DoesNotExist(f"No user {labeler_id}.")
    return bool(row[0])


def _live(also: str = "") -> str:
    """SQL: how many live leases the outer comparison `c` has (`also`: a further condition on
    them); its parameters are the active state and now."""
    return (
        f"(SELECT COUNT(*) FROM {_ASSIGNMENT} a WHERE a.comparison_id = c.id"
        f" AND a.state = %s AND a.expires_at > %s{also})"
    )


def pick_open(
    *, project_id: int, k: int, labeler_id: int, now: datetime, rejected: Sequence[int] = ()
) -> int | None:
    """The id of the open comparison to lease next, locked (PostgreSQL, SKIP LOCKED), or None.

    Highest priority first, then the oldest; not gold; judgments plus live leases short of k (as
    of this statement's snapshot: the caller checks again with comparison_filled once the row is
    locked); neither judged nor skipped by this labeler; not in `rejected`.

    `c.is_open` is written exactly as cmp_open_pick_idx's condition, so SQLite's planner uses that
    partial index too; the walk never steps over a complete comparison. is_gold and judgment_count
    are checked again on the row (free: it is read anyway), so a flag a bulk writer left True can
    cost a step but never hands out a full or gold comparison.
    """
    not_rejected = f" AND c.id NOT IN ({', '.join(['%s'] * len(rejected))})" if rejected else ""
    lock = " FOR NO KEY UPDATE OF c SKIP LOCKED" if _postgres() else ""
    row = _one(
        f"""SELECT c.id FROM {_COMPARISON} c
        WHERE c.project_id = %s AND c.is_open AND NOT c.is_gold AND c.judgment_count < %s
          AND c.judgment_count + {_live()} < %s
          AND NOT EXISTS (SELECT 1 FROM {_ASSIGNMENT} s WHERE s.comparison_id = c.id
                          AND s.labeler_id = %s AND s.state IN (%s, %s))
          AND NOT EXISTS (SELECT 1 FROM {_JUDGMENT} j WHERE j.comparison_id = c.id AND j.labeler_id = %s)
          {not_rejected}
        ORDER BY c.priority DESC, c.id
        LIMIT 1{lock}""",
        [project_id, k, _ACTIVE, _db_datetime(now), k, labeler_id, *_CLOSED, labeler_id, *rejected],
    )
    return None if row is None else row[0]


def comparison_filled(
    *, comparison_id: int, k: int, now: datetime, except_labeler: int | None = None
) -> bool:
    """A fresh read: do the comparison's judgments plus its live leases (other than
    `except_labeler`'s) already reach k?"""
    others = " AND a.labeler_id <> %s" if except_labeler is not None else ""
    params: list[object] = [_ACTIVE, _db_datetime(now)]
    if except_labeler is not None:
        params.append(except_labeler)
    row = _one(
        f"SELECT c.judgment_count + {_live(others)} FROM {_COMPARISON} c WHERE c.id = %s",
        [*params, comparison_id],
    )
    if row is None:
        raise Comparison.DoesNotExist(f"No comparison {comparison_id}.")
    return row[0] >= k


@dataclass(frozen=True)
class JudgmentTarget:
    """What judgment_record needs to know about the comparison an assignment leases."""

    project_id: int
    overlap_k: int
    require_rationale_for_tie: bool
    comparison_id: int
    is_gold: bool
    response_a_id: int
    response_b_id: int


def lock_judgment_target(*, assignment_id: int, labeler_id: int) -> JudgmentTarget | None:
    """Lock the comparison the labeler's assignment leases (only that row: FOR NO KEY UPDATE OF c)
    and answer what a judgment of it needs; None when the assignment is not theirs."""
    lock = " FOR NO KEY UPDATE OF c" if _postgres() else ""
    row = _one(
        f"""SELECT p.id, p.overlap_k, p.require_rationale_for_tie,
                   c.id, c.is_gold, c.response_a_id, c.response_b_id
        FROM {_ASSIGNMENT} a
        JOIN {_COMPARISON} c ON c.id = a.comparison_id
        JOIN {_PROJECT} p ON p.id = a.project_id
        WHERE a.id = %s AND a.labeler_id = %s{lock}""",
        [assignment_id, labeler_id],
    )
    if row is None:
        return None
    project_id, k, rationale, comparison_id, is_gold, a_id, b_id = row
    return JudgmentTarget(project_id, k, bool(rationale), comparison_id, bool(is_gold), a_id, b_id)


def count_judgment(*, comparison_id: int, delta: int) -> None:
    """Add `delta` (+1 a judgment, -1 an undo) to the comparison's judgment_count and set is_open
    in the same statement (models.Comparison.open_expression says why k is read here)."""
    _run(
        f"""UPDATE {_COMPARISON} SET judgment_count = judgment_count + %s,
            is_open = (NOT is_gold AND judgment_count + %s <
                       (SELECT p.overlap_k FROM {_PROJECT} p WHERE p.id = {_COMPARISON}.project_id))
        WHERE id = %s""",
        [delta, delta, comparison_id],
    )


def leases_held(*, labeler_id: int, project_id: int, now: datetime) -> list[tuple[int, bool]]:
    """The labeler's active leases in the project, oldest first: [(assignment id, still live)]."""
    rows = _run(
        f"SELECT a.id, a.expires_at > %s FROM {_ASSIGNMENT} a "
        f"WHERE a.labeler_id = %s AND a.project_id = %s AND a.state = %s ORDER BY a.leased_at, a.id",
        [_db_datetime(now), labeler_id, project_id, _ACTIVE],
    )
    return [(pk, bool(live)) for pk, live in rows]


def judgment_clashes(*, client_id: str, comparison_id: int, labeler_id: int) -> list[tuple[int, str, int]]:
    """Stored judgments a new one would clash with: the same client_id (anyone's), or this
    labeler's on this comparison. [(judgment id, client_id, labeler id)]"""
    return _run(
        f"SELECT j.id, j.client_id, j.labeler_id FROM {_JUDGMENT} j "
        f"WHERE j.client_id = %s OR (j.comparison_id = %s AND j.labeler_id = %s)",
        [client_id, comparison_id, labeler_id],
    )


@dataclass(frozen=True)
class OwnLease:
    """One of the labeler's assignments on a comparison, as judgment_record needs it."""

    id: int
    state: str
    live: bool  # active and not expired at `now`
    side_order: str


def lock_own_assignments(*, labeler_id: int, comparison_id: int, now: datetime) -> list[OwnLease]:
    """Lock the labeler's assignments on the comparison (all of them, in id order) and read them."""
    lock = " FOR NO KEY UPDATE" if _postgres() else ""
    rows = _run(
        f"SELECT a.id, a.state, a.state = %s AND a.expires_at > %s, a.side_order FROM {_ASSIGNMENT} a "
        f"WHERE a.labeler_id = %s AND a.comparison_id = %s ORDER BY a.id{lock}",
        [_ACTIVE, _db_datetime(now), labeler_id, comparison_id],
    )
    return [OwnLease(pk, state, bool(live), side) for pk, state, live, side in rows]


def close_assignments(*, submitted: int, released: Sequence[int], now: datetime) -> None:
    """Mark one assignment submitted and the others released, closed at `now`, in one statement."""
    ids = [submitted, *released]
    _run(
        f"UPDATE {_ASSIGNMENT} SET state = CASE WHEN id = %s THEN %s ELSE %s END, closed_at = %s "
        f"WHERE id IN ({', '.join(['%s'] * len(ids))})",
        [
            submitted,
            Assignment.State.SUBMITTED.value,
            Assignment.State.RELEASED.value,
            _db_datetime(now),
            *ids,
        ],
    )
