"""Assignment and judgment: the writes labelers make, hours a day, many at once.

The statements every labeler call runs (the pick, the locks, the access checks) are written out in
SQL in annotate.statements: the ORM took more CPU to build them than the database took to run them.

Locking (PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE and pairwise/sqlite's locks):
- comparison_assign_next locks the comparison it hands out (FOR UPDATE SKIP LOCKED), then counts
  judgments + live leases again in a fresh statement: a lease committed by another transaction
  between our snapshot and our lock is seen by that second read, so no comparison goes past k.
- judgment_record locks the comparison, then the labeler's assignments on it (pk order), and bumps
  comparison.judgment_count. assign_next only waits on the labeler's own rows (their user row,
  then their expired leases); its comparison lock skips and never waits, so the two cannot deadlock.
- comparison.is_open (what the pick walks, through a partial index) changes in the same UPDATE as
  judgment_count (judgment_record, judgment_undo), with k read by that statement: one that waited
  for the lock sees a committed overlap_k change. A change of overlap_k (Project.save) rewrites
  every comparison's flag in one UPDATE, which waits for a locked comparison and reads it as
  committed. So a comparison's flag is never decided from a k or a count that is already stale.
- Every lock is FOR NO KEY UPDATE and names the one table it means (`of=`). A plain FOR UPDATE
  over a select_related join also locks the joined row (the project!), and a FOR UPDATE row blocks
  the FOR KEY SHARE that PostgreSQL's deferred foreign-key checks take at COMMIT: every insert of an
  assignment or judgment checks its project/comparison that way. The race test
  (tests/annotate/test_race.py) deadlocked on exactly that before this rule.
- One labeler's own assign calls (two tabs, a double click) run one at a time: each locks the
  labeler's user row first and then looks for their current lease again, so the second call gets
  the first one's lease instead of a second comparison or a wrong "nothing left".
- A labeler holds at most Assignment.MAX_ACTIVE_LEASES active leases per project, one per slot,
  and at most one per comparison (database constraints). comparison_assign_next hands out the
  first (slot 0) only when they hold none, so a double click that races itself gets its one lease
  back; comparison_lease_ahead (the ranking screen's prefetch) takes the lowest free slot, and a
  race of the same labeler against itself ends in a constraint error and a fresh pick.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import UnionType
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from annotate import statements
from annotate.models import (
    Assignment,
    Choice,
    Comparison,
    Judgment,
    LabelerExclusion,
    Project,
    SideOrder,
)
from annotate.permissions import is_manager
from pairwise.errors import Conflict, Forbidden, InvalidInput, NotFound, PairwiseError

# How many locked candidates assign_next may reject (filled between snapshot and lock) before it
# gives up for this call; each rejection is a comparison another labeler just took.
_MAX_PICK_ATTEMPTS = 8
# An undo re-releases the leases a prefetch committed meanwhile this many times at most.
UNDO_TRIES = 3


def _checkpoint(name: str) -> None:
    """A named point inside a critical section below; does nothing.

    The race tests (tests/annotate/test_race_interleavings.py) replace it to hold one thread there
    while another runs, which forces the interleaving each lock above exists for, every time.
    """


# --- membership ----------------------------------------------------------------------------------
# Membership and exclusion are checked whenever a labeler acts or reads (lease, judge, skip, undo,
# an assignment, their stats), not only when a pair is leased: a labeler excluded or removed from a
# project while holding leases can do nothing more with them. Their live leases there go back to
# the pool when they are refused, so the pairs reach someone else now, not when the leases end.

EXCLUDED = "You have been excluded from this project; ask its manager."


def _refuse_if_barred(labeler: AbstractBaseUser, project_id: int, *, member: bool, excluded: bool) -> None:
    """Raise Forbidden ("excluded" or "not_member") unless the labeler may work on the project now:
    a member (managers: of any project) with no exclusion in force. A refused labeler's live leases
    in the project are released first, and stay released: run this outside a transaction that the
    refusal would roll back."""
    if excluded:
        refusal = Forbidden(EXCLUDED, code="excluded")
    elif not member and not is_manager(labeler):
        refusal = Forbidden(
            "You are not a labeler of this project (any more); ask its manager.", code="not_member"
        )
    else:
        return
    Assignment.objects.filter(labeler=labeler, project_id=project_id, state=Assignment.State.ACTIVE).update(
        state=Assignment.State.RELEASED, closed_at=timezone.now()
    )
    raise refusal


def project_for_labeler(*, labeler: AbstractBaseUser, project_id: int) -> Project:
    """The project if the labeler may work on it now. Unknown and foreign projects look the same
    (NotFound, 404); an excluded labeler is told so (Forbidden, 403)."""
    try:
        project = statements.project_with_access(project_id=int(project_id), labeler_id=labeler.pk)
    except (ValueError, TypeError, OverflowError):
        project = None
    return _project_if_allowed(labeler, project, f"No project {project_id} for you.")


def project_of_assignment(*, labeler: AbstractBaseUser, assignment_id: int) -> Project:
    """The project of the labeler's own assignment, if they may work on it now; refused as
    project_for_labeler refuses (an assignment that is not theirs: NotFound)."""
    try:
        project = statements.project_of_assignment(assignment_id=int(assignment_id), labeler_id=labeler.pk)
    except (ValueError, TypeError, OverflowError):
        project = None
    return _project_if_allowed(labeler, project, f"No assignment {assignment_id} for you.")


def _project_if_allowed(labeler: AbstractBaseUser, project: Project | None, not_found: str) -> Project:
    if project is None:
        raise NotFound(not_found)
    try:
        _refuse_if_barred(
            labeler, project.pk, member=project.labeler_is_member, excluded=project.labeler_is_excluded
        )
    except Forbidden as exc:
        if exc.code == "not_member":
            raise NotFound(not_found) from None
        raise
    return project


def labeler_access_check(*, labeler: AbstractBaseUser, assignment_id: int) -> bool:
    """NotFound unless the assignment is the labeler's; Forbidden (leases released) unless they may
    still work on its project. Every path that reads or writes one assignment calls it first.

    Answers whether the labeler is simulated (in the `simulated` group of manage.py
    simulate_labelers), read in the same statement: their judgments are stored with source
    "simulated", everyone else's "human"."""
    try:
        row = statements.assignment_access(assignment_id=int(assignment_id), labeler_id=labeler.pk)
    except (ValueError, TypeError, OverflowError):
        row = None
    if row is None:
        raise NotFound(f"No assignment {assignment_id} for you.")
    project_id, member, excluded, simulated = row
    _refuse_if_barred(labeler, project_id, member=member, excluded=excluded)
    return simulated


def labeler_is_excluded(*, labeler: AbstractBaseUser, project: Project) -> bool:
    return LabelerExclusion.objects.filter(project=project, labeler=labeler, lifted_at__isnull=True).exists()


# --- assignment ----------------------------------------------------------------------------------


def _unseen_by(labeler: AbstractBaseUser, qs):
    """Comparisons this labeler has neither judged nor skipped."""
    closed = Assignment.objects.filter(
        comparison=OuterRef("pk"),
        labeler=labeler,
        state__in=[Assignment.State.SUBMITTED, Assignment.State.SKIPPED],
    )
    judged = Judgment.objects.filter(comparison=OuterRef("pk"), labeler=labeler)
    return qs.exclude(Exists(closed)).exclude(Exists(judged))


# What the labeler is shown: loaded with the assignment, never lazily one query at a time.
_SHOWN = ("prompt", "response_a", "response_b")


def _pick_regular(
    labeler: AbstractBaseUser, project: Project, now: datetime, *, exclude: Iterable[int] = ()
) -> int | None:
    """The id of the comparison to lease, locked; `exclude`: those the labeler already holds."""
    k = project.overlap_k
    rejected: list[int] = list(exclude)
    for _ in range(_MAX_PICK_ATTEMPTS):
        # No joins in the pick: with them PostgreSQL spends ~1.4 ms planning it, without ~0.2 ms
        # (measured on 100k comparisons); the shown texts are fetched by primary key afterwards.
        picked = statements.pick_open(
            project_id=project.pk, k=k, labeler_id=labeler.pk, now=now, rejected=rejected
        )
        if picked is None:
            return None
        _checkpoint("assign.locked")  # the comparison is locked; its count comes from our snapshot
        if not statements.comparison_filled(comparison_id=picked, k=k, now=now):
            return picked
        rejected.append(picked)
    return None


def _pick_gold(labeler: AbstractBaseUser, project: Project) -> int | None:
    """The id of a gold item to lease. Gold items ignore k: every labeler may judge each one once."""
    qs = _unseen_by(labeler, Comparison.objects.filter(project=project, is_gold=True))
    live_mine = Assignment.objects.filter(
        comparison=OuterRef("pk"), labeler=labeler, state=Assignment.State.ACTIVE
    )
    return qs.exclude(Exists(live_mine)).order_by("?").values_list("id", flat=True).first()


def _with_shown(qs):
    return qs.select_related(*(f"comparison__{f}" for f in _SHOWN))


def _pick(
    labeler: AbstractBaseUser, project: Project, now: datetime, rng, *, exclude: Iterable[int] = ()
) -> int | None:
    """The id of the comparison to lease next (gold now and then), or None."""
    picked = None
    if project.gold_rate > 0 and rng.random() < project.gold_rate:
        picked = _pick_gold(labeler, project)
    if picked is None:
        picked = _pick_regular(labeler, project, now, exclude=exclude)
    return picked


def _release_expired_for(labeler: AbstractBaseUser, project: Project, now: datetime) -> None:
    Assignment.objects.filter(
        labeler=labeler, project=project, state=Assignment.State.ACTIVE, expires_at__lte=now
    ).update(state=Assignment.State.RELEASED, closed_at=now)


def _live_leases_of(labeler: AbstractBaseUser, project: Project, now: datetime):
    """The labeler's live leases in the project, oldest first (the first is the current one)."""
    return (
        _with_shown(Assignment.objects)
        .filter(labeler=labeler, project=project, state=Assignment.State.ACTIVE, expires_at__gt=now)
        .order_by("leased_at", "id")
    )


def _current_lease(labeler: AbstractBaseUser, project: Project, now: datetime) -> Assignment | None:
    return _live_leases_of(labeler, project, now).first()


def _new_lease(
    labeler: AbstractBaseUser, project: Project, comparison_id: int, now: datetime, rng, *, slot: int = 0
) -> Assignment:
    """A lease of the comparison to the labeler from now on, its sides in a random order."""
    return Assignment.objects.create(
        project=project,
        comparison_id=comparison_id,
        labeler=labeler,
        side_order=rng.choice([SideOrder.AB, SideOrder.BA]),
        slot=slot,
        leased_at=now,
        expires_at=now + timedelta(seconds=project.lease_seconds),
    )


def comparison_assign_next(
    *, labeler: AbstractBaseUser, project: Project, rng: random.Random | None = None
) -> Assignment | None:
    """Lease the next comparison to this labeler, or give back the lease they already hold.

    Returns None when nothing is left for them. Raises Forbidden for an excluded labeler.
    The assignment comes with its comparison's prompt and responses loaded.
    """
    rng = rng or random
    now = timezone.now()
    try:
        with transaction.atomic():
            # Serialise this labeler's own concurrent calls (see the module docstring), then read
            # their leases in a statement of their own (lock_labeler says why): a twin call may
            # have leased something while we waited.
            if statements.lock_labeler(labeler_id=labeler.pk, project_id=project.pk):
                raise Forbidden(EXCLUDED, code="excluded")
            held = statements.leases_held(labeler_id=labeler.pk, project_id=project.pk, now=now)
            live = [pk for pk, is_live in held if is_live]
            if live:
                leased = live[0]
            else:
                if held:  # expired: back to the pool, unless a late judgment closed it meanwhile
                    Assignment.objects.filter(
                        pk__in=[pk for pk, _ in held], state=Assignment.State.ACTIVE
                    ).update(state=Assignment.State.RELEASED, closed_at=now)
                picked = _pick(labeler, project, now, rng)
                if picked is None:
                    return None
                leased = _new_lease(labeler, project, picked, now, rng).pk
                _checkpoint("assign.leased")  # leased, not yet committed
    except IntegrityError:
        # Safety net (the lock above should prevent it): the labeler's other call won; use its lease.
        current = _current_lease(labeler, project, timezone.now())
        if current is None:
            raise
        return current
    # What is shown is read after the commit: on SQLite every other writer waits while a
    # transaction is open, and nothing here needs the lock.
    return statements.lease_shown(assignment_id=leased)


def comparison_lease_ahead(
    *, labeler: AbstractBaseUser, project: Project, rng: random.Random | None = None
) -> Assignment | None:
    """Lease one more comparison on top of those the labeler already holds (the screen's prefetch).

    The ranking screen keeps the next pairs leased and loaded while the labeler reads the current
    one, so a choice shows the next pair at once; leases whose judgments are still waiting in the
    browser (offline) stay held too. A lease ahead is an ordinary lease: it counts against k and
    expires like any other. The labeler holds at most Assignment.MAX_ACTIVE_LEASES per project.

    Returns None when nothing is left for them; raises Conflict (code "lease_limit") when they
    hold the maximum, Forbidden for an excluded labeler.
    """
    if labeler_is_excluded(labeler=labeler, project=project):
        raise Forbidden(EXCLUDED, code="excluded")
    rng = rng or random
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                _release_expired_for(labeler, project, now)
                held = list(
                    Assignment.objects.filter(
                        labeler=labeler, project=project, state=Assignment.State.ACTIVE
                    ).values_list("slot", "comparison_id")
                )
                free = sorted(set(range(Assignment.MAX_ACTIVE_LEASES)) - {slot for slot, _ in held})
                if not free:
                    raise Conflict(
                        f"You already hold {len(held)} pairs in this project; "
                        "new ones come once your judgments have reached the server.",
                        code="lease_limit",
                    )
                picked = _pick(labeler, project, now, rng, exclude=[c for _, c in held])
                if picked is None:
                    return None
                assignment = _new_lease(labeler, project, picked, now, rng, slot=free[0])
                _checkpoint("lease_ahead.leased")  # leased, not yet committed
        except IntegrityError:
            # Two requests of this labeler (two tabs) took the same slot or the same comparison at
            # once; the other one won. Look again with what is now committed.
            continue
        return statements.lease_shown(assignment_id=assignment.pk)
    return None


def assignments_active(*, labeler: AbstractBaseUser, project: Project) -> list[Assignment]:
    """The labeler's live leases in the project, oldest (the current one) first."""
    return list(_live_leases_of(labeler, project, timezone.now()))


def assignment_for_labeler(*, labeler: AbstractBaseUser, assignment_id: int) -> Assignment:
    """An assignment of this labeler's; anyone else's looks like it does not exist. Forbidden once
    the labeler is excluded or removed from its project (labeler_access_check)."""
    labeler_access_check(labeler=labeler, assignment_id=assignment_id)
    try:
        return Assignment.objects.select_related(
            "project", "comparison__prompt", "comparison__response_a", "comparison__response_b"
        ).get(pk=assignment_id, labeler=labeler)
    except (Assignment.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No assignment {assignment_id} for you.") from None


def leases_release(*, project: Project) -> int:
    """Return every active lease of a project to the pool (admin action). Returns how many."""
    now = timezone.now()
    return Assignment.objects.filter(project=project, state=Assignment.State.ACTIVE).update(
        state=Assignment.State.RELEASED, closed_at=now
    )


# --- judgments -----------------------------------------------------------------------------------


# A judgment's limits; the API's request schema (annotate.api.views) is built from the same ones.
CHOICES = tuple(Choice.values)
RATIONALE_MAX_CHARS = 5000
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"  # a UUID fits; no spaces, nothing to escape
# A day. No one reads one pair longer; the screen's timer in a forgotten tab would only add noise,
# and a bound keeps Infinity, NaN and 1e300 out of the exports (they are not JSON).
SECONDS_ON_TASK_MAX = 86400


@dataclass(frozen=True)
class JudgmentInput:
    """A judgment as the labeler gave it, checked when it is made: an instance always holds valid
    values, so the ranking screen, the API, simulated labelers and tests share one set of rules.
    Raises InvalidInput naming the field. Build one from a request body with judgment_input_from.
    (The project's own rule, a rationale for ties, is checked by judgment_record.)"""

    choice: str
    client_id: str
    strength: int | None = None
    rationale: str = ""
    seconds_on_task: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.choice, str) or self.choice not in CHOICES:
            raise InvalidInput("choice", f"must be one of {', '.join(CHOICES)}.")
        if not isinstance(self.client_id, str) or not re.fullmatch(CLIENT_ID_PATTERN, self.client_id):
            raise InvalidInput(
                "client_id", "must be 1 to 64 letters, digits or _ . : - (a UUID, for instance)."
            )
        strength = self.strength
        if strength is not None and (not _is_number(strength, int) or strength not in (1, 2, 3)):
            raise InvalidInput("strength", "must be 1 (slightly), 2 (clearly) or 3 (much better).")
        if not isinstance(self.rationale, str) or len(self.rationale) > RATIONALE_MAX_CHARS:
            raise InvalidInput("rationale", f"must be text of at most {RATIONALE_MAX_CHARS} characters.")
        seconds = self.seconds_on_task
        if seconds is not None:
            # The chained comparison also refuses NaN and infinities, and never converts a huge
            # int to float (which would raise OverflowError).
            if not _is_number(seconds, int | float) or not 0 <= seconds <= SECONDS_ON_TASK_MAX:
                raise InvalidInput(
                    "seconds_on_task", f"must be a number of seconds from 0 to {SECONDS_ON_TASK_MAX}."
                )
            object.__setattr__(self, "seconds_on_task", float(seconds))


def _is_number(value: Any, kind: type | UnionType) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)  # JSON true is not 1


def judgment_input_from(payload: Mapping[str, Any]) -> JudgmentInput:
    """A judgment from a decoded JSON object (the API's and the ranking screen's request body).
    Unknown keys are ignored; raises InvalidInput naming the first bad field."""
    for field in ("choice", "client_id"):
        if payload.get(field) is None:
            raise InvalidInput(field, "is required.")
    return JudgmentInput(
        choice=payload["choice"],
        client_id=payload["client_id"],
        strength=payload.get("strength"),
        rationale=payload.get("rationale", ""),
        seconds_on_task=payload.get("seconds_on_task"),
    )


def _validate(data: JudgmentInput, *, require_rationale_for_tie: bool) -> None:
    """The project's rules for a judgment (its fields were checked when it was made)."""
    if (
        require_rationale_for_tie
        and data.choice in (Choice.TIE, Choice.BOTH_BAD)
        and not data.rationale.strip()
    ):
        raise PairwiseError(
            "This project asks for a rationale when you pick tie or both bad.", code="rationale"
        )


def _winner_id(comparison: statements.JudgmentTarget, side_order: str, choice: str) -> int | None:
    if choice not in (Choice.A, Choice.B):
        return None
    a_is_response_a = side_order == SideOrder.AB
    if (choice == Choice.A) == a_is_response_a:
        return comparison.response_a_id
    return comparison.response_b_id


def _replay(labeler: AbstractBaseUser, client_id: str) -> Judgment | None:
    existing = Judgment.objects.filter(client_id=client_id).first()
    if existing is not None and existing.labeler_id != labeler.pk:
        raise Conflict("That client_id was already used by someone else.", code="client_id_taken")
    return existing


def judgment_record(
    *, labeler: AbstractBaseUser, assignment_id: int, data: JudgmentInput
) -> tuple[Judgment, bool]:
    """Store a labeler's judgment for their assignment. Returns (judgment, created).

    Idempotent on client_id: the same id again returns the stored judgment with created=False.
    A lease that expired still counts if the comparison stays within k; otherwise Conflict (409).

    Locks the comparison, then this labeler's assignments on it (the labeler may hold two: an
    expired one still open in an old tab and the same comparison served again). Taking the
    comparison first keeps two such submissions from deadlocking each other.

    A labeler excluded or removed from the project is refused (Forbidden) before anything is
    locked, and their leases there are released; the comparison keeps its count. The check is not
    under the comparison lock: a judgment sent as the exclusion commits may still count, as one
    sent a moment earlier would (the exclusion drops it from exports anyway).
    """
    simulated = labeler_access_check(labeler=labeler, assignment_id=assignment_id)
    source = Judgment.Source.SIMULATED if simulated else Judgment.Source.HUMAN
    try:
        with transaction.atomic():
            return _record(labeler, int(assignment_id), data, source)  # an int: checked above
    except IntegrityError:
        # The same client id raced in through another assignment: that one was stored; answer it.
        existing = _replay(labeler, data.client_id)
        if existing is None:
            raise
        return existing, False


def _record(
    labeler: AbstractBaseUser, assignment_id: int, data: JudgmentInput, source: str
) -> tuple[Judgment, bool]:
    # One statement: the comparison row locked, with what the judgment needs of it and its
    # project. Only the comparison: the assignment rows are locked next, all of them in pk order.
    target = statements.lock_judgment_target(assignment_id=assignment_id, labeler_id=labeler.pk)
    if target is None:
        raise NotFound(f"No assignment {assignment_id} for you.")
    _validate(data, require_rationale_for_tie=target.require_rationale_for_tie)
    now = timezone.now()
    mine = statements.lock_own_assignments(labeler_id=labeler.pk, comparison_id=target.comparison_id, now=now)
    assignment = next(a for a in mine if a.id == assignment_id)  # its state as of the lock
    # Under the lock: a concurrent retry of this same submission may have just committed, or the
    # labeler may have judged this comparison through their other assignment on it.
    clash = statements.judgment_clashes(
        client_id=data.client_id, comparison_id=target.comparison_id, labeler_id=labeler.pk
    )
    for judgment_id, client_id, owner in clash:
        if client_id == data.client_id:
            if owner != labeler.pk:
                raise Conflict("That client_id was already used by someone else.", code="client_id_taken")
            return Judgment.objects.get(pk=judgment_id), False
    if clash or assignment.state == Assignment.State.SUBMITTED:
        raise Conflict("You already judged this comparison.", code="already_judged")
    if assignment.state == Assignment.State.SKIPPED:
        raise Conflict("You skipped this comparison; ask for the next one.", code="skipped")
    if not assignment.live and not target.is_gold:
        # The labeler's own other lease on it (served again) does not count against them.
        if statements.comparison_filled(
            comparison_id=target.comparison_id, k=target.overlap_k, now=now, except_labeler=labeler.pk
        ):
            raise Conflict(
                "Your lease on this comparison expired and others have since judged it; "
                "your judgment was not needed. Take the next one.",
                code="lease_expired",
            )
    _checkpoint("judgment.checked")  # every check passed under the locks; nothing written yet
    judgment = Judgment.objects.create(
        comparison_id=target.comparison_id,
        labeler=labeler,
        source=source,
        assignment_id=assignment.id,
        choice=data.choice,
        strength=data.strength if data.choice in (Choice.A, Choice.B) else None,
        rationale=data.rationale.strip(),
        seconds_on_task=data.seconds_on_task,
        side_order=assignment.side_order,
        winner_id=_winner_id(target, assignment.side_order, data.choice),
        client_id=data.client_id,
        created_at=now,
    )
    # A late answer from an old tab settles the same comparison's newer lease too: release it, or
    # the labeler would be handed back an item they can no longer answer.
    stale = [a.id for a in mine if a.id != assignment.id and a.state == Assignment.State.ACTIVE]
    statements.close_assignments(submitted=assignment.id, released=stale, now=now)
    statements.count_judgment(comparison_id=target.comparison_id, delta=+1)
    return judgment, True


def assignment_skip(*, labeler: AbstractBaseUser, assignment_id: int, reason: str = "") -> Assignment:
    """Record a skip. Skipping twice is harmless; skipping a judged comparison is a Conflict.
    Forbidden once the labeler is excluded or removed from the project (labeler_access_check)."""
    labeler_access_check(labeler=labeler, assignment_id=assignment_id)
    with transaction.atomic():
        try:
            assignment = Assignment.objects.select_for_update(no_key=True).get(
                pk=assignment_id, labeler=labeler
            )
        except (Assignment.DoesNotExist, ValueError, TypeError):
            raise NotFound(f"No assignment {assignment_id} for you.") from None
        if assignment.state == Assignment.State.SUBMITTED:
            raise Conflict("You already judged this comparison; undo it first.", code="already_judged")
        if assignment.state != Assignment.State.SKIPPED:
            assignment.state, assignment.closed_at = Assignment.State.SKIPPED, timezone.now()
            assignment.skip_reason = reason.strip()[:500]
            assignment.save(update_fields=["state", "closed_at", "skip_reason"])
    return assignment


def judgment_undo(*, labeler: AbstractBaseUser, client_id: str) -> Assignment:
    """Take back a judgment while its lease lasts; the assignment becomes active again.
    Forbidden once the labeler is excluded or removed from the project (labeler_access_check)."""
    assignment_id = (
        Judgment.objects.filter(client_id=client_id, labeler=labeler)
        .values_list("assignment_id", flat=True)
        .first()
    )
    if assignment_id is None:
        raise NotFound("No judgment of yours with that client id.")
    labeler_access_check(labeler=labeler, assignment_id=assignment_id)
    with transaction.atomic():
        judgment = (
            Judgment.objects.select_for_update(of=("self",), no_key=True)
            .filter(client_id=client_id, labeler=labeler)
            .select_related("assignment")
            .first()
        )
        if judgment is None or judgment.assignment is None:
            raise NotFound("No judgment of yours with that client id.")
        assignment = judgment.assignment
        now = timezone.now()
        if assignment.expires_at <= now:
            raise Conflict(
                "The lease on that comparison has ended; it can no longer be undone.", code="too_late"
            )
        statements.count_judgment(comparison_id=judgment.comparison_id, delta=-1)
        judgment.delete()
        assignment.state, assignment.closed_at = Assignment.State.ACTIVE, None
        # Another lease of this labeler in the project must give way: the undone one is current
        # again. A lease the screen's prefetch committed after the release read its rows takes the
        # slot first (one_active_lease_per_slot): it is released too, on the next try.
        for attempt in range(UNDO_TRIES):
            try:
                with transaction.atomic():
                    Assignment.objects.filter(
                        labeler=labeler, project_id=assignment.project_id, state=Assignment.State.ACTIVE
                    ).exclude(pk=assignment.pk).update(state=Assignment.State.RELEASED, closed_at=now)
                    _checkpoint("undo.released")
                    assignment.save(update_fields=["state", "closed_at"])
                break
            except IntegrityError:
                if attempt == UNDO_TRIES - 1:
                    raise
    return assignment


# --- reads for the labeler -----------------------------------------------------------------------


# The ranking screen refreshes its counts with every judgment. Counting every open comparison of
# a big project costs more than the judgment itself (39 ms with 50,000 open, PostgreSQL), so the
# screen counts what is left up to this many and shows "1,000+" beyond.
SCREEN_COUNT_CAP = 1000


@dataclass(frozen=True)
class LabelerStats:
    judged_today: int
    judged_total: int
    skipped_total: int
    remaining_for_me: int
    project_remaining: int
    # None: the two remaining counts are exact; a number: each is at most this (there may be more).
    capped_at: int | None = None


def labeler_stats(*, labeler: AbstractBaseUser, project: Project, cap: int | None = None) -> LabelerStats:
    """The labeler's progress in the project. `cap`: count what is left only up to this many
    (SCREEN_COUNT_CAP on the ranking screen), so the cost stays flat as a project grows."""
    now = timezone.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    mine = Judgment.objects.filter(labeler=labeler, comparison__project=project).aggregate(
        total=Count("id"), today=Count("id", filter=Q(created_at__gte=start_of_day))
    )
    skipped = Assignment.objects.filter(
        labeler=labeler, project=project, state=Assignment.State.SKIPPED
    ).count()
    open_qs = Comparison.objects.filter(
        project=project, is_open=True, is_gold=False, judgment_count__lt=project.overlap_k
    )

    def count(qs: QuerySet) -> int:
        return qs.count() if cap is None else qs[:cap].count()  # COUNT over a LIMITed subquery

    return LabelerStats(
        judged_today=mine["today"],
        judged_total=mine["total"],
        skipped_total=skipped,
        remaining_for_me=count(_unseen_by(labeler, open_qs)),
        project_remaining=count(open_qs),
        capped_at=cap,
    )
