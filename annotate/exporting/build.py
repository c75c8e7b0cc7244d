"""Export judgments: aggregated preference pairs for TRL, and raw judgments for analysis.

Preference export (what a reward model trains on)
- One row per comparison that has a clear winner. Each judgment is one vote, order-independent
  (Judgment.winner is the stored response it prefers): a vote for response_a, for response_b, for
  "tie" or for "both bad". Human, simulated and external (imported) judgments count alike.
- The outcome is the bucket with strictly more votes than every other bucket. A response wins
  -> one row, chosen = winner. Tie wins, or no bucket leads (e.g. 1 vote A, 1 vote B) -> "no
  preference": dropped, unless keep_ties, which emits the pair twice, once in each order, with
  tie=true. TRL has no tie label; the mirrored pair makes the Bradley-Terry loss pull the two
  rewards together, which is what a tie says (a 0.5 soft label). Both-bad wins -> always dropped:
  it says neither response is worth learning towards, not that they are equal.
- Simulated judgments (manage.py simulate_labelers; source "simulated") are votes like any other
  unless include_simulated=False, which leaves them out before the votes are counted. Either way
  the result says how many of the judgments behind the rows were simulated.
- agreement = votes for the outcome / all votes (for a no-majority split: the largest bucket's
  share); rows below min_agreement are dropped.
- Gold comparisons (quality probes) and judgments by labelers with an active LabelerExclusion in
  the project are left out; lifting the exclusion brings their judgments back.
- Form: if any exported prompt is a conversation (more than one message, or any turn that is not
  the user's, e.g. a system turn) every row is conversational (prompt = messages, chosen/rejected
  = [{"role": "assistant", ...}], or the response's own messages where it has several turns,
  as an imported HH side can); otherwise prompt/chosen/rejected are plain strings. TRL needs
  one schema per file, and train and eval share it. Plain text is passed to TRL as is (it
  concatenates prompt + chosen), so pass conversational=True to get the chat template instead.
- Extra columns (comparison_id, prompt_id, n_votes, agreement, tie) are ignored by TRL's
  RewardTrainer (remove_unused_columns keeps only the tokenized ids); none is named `margin`,
  which TRL would use in the loss.
- The eval split is made by prompt: prompts are shuffled with `seed` and round(F * n) of them
  (at least one, never all) go to eval with all their rows, so no prompt is on both sides.
- Files are written to a temporary name beside the target and renamed: a reader sees the old
  export or the new one, never half of one.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from django.conf import settings

from annotate.models import Choice, Comparison, Judgment, LabelerExclusion, Project, Prompt
from pairwise.errors import PairwiseError
from pairwise.files.atomic import atomic_dir, atomic_file

Row = dict[str, Any]

_A, _B, _TIE, _BOTH_BAD = "a", "b", "tie", "both_bad"


@dataclass(frozen=True)
class ExportResult:
    """What a preference export produced; a DatasetSnapshot records these fields."""

    path: Path  # the JSONL train file, or the dataset directory (load_from_disk)
    train_path: Path
    eval_path: Path | None
    fmt: str
    n_train: int
    n_eval: int
    n_comparisons: int
    n_judgments: int
    n_labelers: int
    conversational: bool
    # sha256 over the rows as canonical JSON lines (train then eval): equal for jsonl and dataset.
    content_hash: str
    # sha256 over the sorted ids of the judgments behind the exported rows.
    judgment_ids_hash: str
    filters: dict[str, Any] = field(default_factory=dict)
    # Of n_judgments, how many were made by simulated labelers.
    n_simulated_judgments: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("path", "train_path", "eval_path"):
            data[key] = str(data[key]) if data[key] is not None else None
        return data


# --- helpers -------------------------------------------------------------------------------------


def labeler_pseudonym(user_id: int | None) -> str:
    """A stable pseudonym for a labeler: HMAC of the user id with PAIRWISE_PSEUDONYM_SALT.

    Ten hex digits (40 bits) so that thousands of labelers do not collide.
    """
    if user_id is None:
        return ""
    salt = settings.PAIRWISE_PSEUDONYM_SALT.encode("utf-8")
    digest = hmac.new(salt, str(user_id).encode("ascii"), hashlib.sha256).hexdigest()
    return f"L-{digest[:10]}"


def simulated_judgments_count(*, project: Project) -> int:
    """How many of the project's judgments were made by simulated labelers (gold items included)."""
    return Judgment.objects.filter(comparison__project=project, source=Judgment.Source.SIMULATED).count()


def excluded_labeler_ids(*, project: Project) -> set[int]:
    return set(
        LabelerExclusion.objects.filter(project=project, lifted_at__isnull=True).values_list(
            "labeler_id", flat=True
        )
    )


def _is_conversation(messages: list[dict[str, Any]]) -> bool:
    return len(messages) > 1 or any(m.get("role") != "user" for m in messages)


def _clean_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    # Only role/content: stray keys would widen the schema datasets infers.
    return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in messages]


def _canonical_line(row: Row) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _write_lines(fh: IO[str], lines: Iterable[str]) -> None:
    for line in lines:
        fh.write(line)
        fh.write("\n")


def eval_path_for(out_path: Path) -> Path:
    """prefs.jsonl -> prefs.eval.jsonl"""
    return out_path.with_name(f"{out_path.stem}.eval{out_path.suffix or '.jsonl'}")


# --- aggregation ---------------------------------------------------------------------------------


@dataclass
class _Tally:
    votes: Counter = field(default_factory=Counter)
    judgment_ids: list[int] = field(default_factory=list)
    labeler_ids: set[int] = field(default_factory=set)
    simulated: int = 0

    def outcome(self) -> tuple[str, float]:
        """(bucket, agreement); bucket "split" when no bucket leads."""
        total = sum(self.votes.values())
        ranked = self.votes.most_common()
        top_bucket, top = ranked[0]
        if len(ranked) > 1 and ranked[1][1] == top:
            return "split", top / total
        return top_bucket, top / total


def _tallies(project: Project, excluded: set[int], *, include_simulated: bool) -> dict[int, _Tally]:
    rows = (
        Judgment.objects.filter(comparison__project=project, comparison__is_gold=False)
        .exclude(labeler_id__in=excluded)
        .order_by("comparison_id", "id")
        .values_list("id", "comparison_id", "choice", "winner_id", "labeler_id", "source")
    )
    if not include_simulated:
        rows = rows.exclude(source=Judgment.Source.SIMULATED)
    pairs = dict(
        Comparison.objects.filter(project=project, is_gold=False)
        .values_list("id", "response_a_id")
        .iterator(chunk_size=5000)
    )
    tallies: dict[int, _Tally] = {}
    for jid, cid, choice, winner_id, labeler_id, source in rows.iterator(chunk_size=5000):
        if choice == Choice.TIE:
            bucket = _TIE
        elif choice == Choice.BOTH_BAD:
            bucket = _BOTH_BAD
        elif winner_id is None:
            continue  # an A/B judgment whose response is gone: nothing to count
        else:
            bucket = _A if winner_id == pairs[cid] else _B
        tally = tallies.setdefault(cid, _Tally())
        tally.votes[bucket] += 1
        tally.judgment_ids.append(jid)
        if labeler_id is not None:
            tally.labeler_ids.add(labeler_id)
        tally.simulated += source == Judgment.Source.SIMULATED
    return tallies


def _split_prompts(prompt_ids: list[int], eval_fraction: float, seed: int) -> set[int]:
    if eval_fraction <= 0 or len(prompt_ids) < 2:
        return set()
    shuffled = sorted(prompt_ids)
    random.Random(seed).shuffle(shuffled)
    n_eval = min(max(round(eval_fraction * len(shuffled)), 1), len(shuffled) - 1)
    return set(shuffled[:n_eval])


# --- preference export ---------------------------------------------------------------------------


def preferences_rows(
    *,
    project: Project,
    min_agreement: float = 0.0,
    keep_ties: bool = False,
    conversational: bool | None = None,
    include_simulated: bool = True,
) -> tuple[list[Row], dict[str, Any]]:
    """Aggregate a project's judgments into preference rows (no split, nothing written).

    Returns (rows ordered by comparison id, stats). See the module docstring for the rules.
    """
    if not 0.0 <= min_agreement <= 1.0:
        raise PairwiseError(f"min_agreement must be between 0 and 1; got {min_agreement}.")
    excluded = excluded_labeler_ids(project=project)
    tallies = _tallies(project, excluded, include_simulated=include_simulated)

    kept: dict[int, tuple[str, float, _Tally]] = {}
    for cid, tally in tallies.items():
        bucket, agreement = tally.outcome()
        if bucket == _BOTH_BAD or (bucket in (_TIE, "split") and not keep_ties):
            continue
        if agreement < min_agreement:
            continue
        kept[cid] = (bucket, agreement, tally)

    # A response of several turns (Response.messages) is exported as those messages.
    comparisons = {
        cid: (prompt_id, a_messages or a_text, b_messages or b_text)
        for cid, prompt_id, a_text, b_text, a_messages, b_messages in Comparison.objects.filter(
            project=project, is_gold=False
        )
        .values_list(
            "id",
            "prompt_id",
            "response_a__text",
            "response_b__text",
            "response_a__messages",
            "response_b__messages",
        )
        .iterator(chunk_size=2000)
        if cid in kept
    }
    needed_prompts = {prompt_id for prompt_id, _, _ in comparisons.values()}
    prompts = {
        pid: messages
        for pid, messages in Prompt.objects.filter(project=project)
        .values_list("id", "messages")
        .iterator(chunk_size=2000)
        if pid in needed_prompts
    }
    any_conversation = any(_is_conversation(m) for m in prompts.values()) or any(
        isinstance(side, list) for _, *sides in comparisons.values() for side in sides
    )
    if conversational is None:
        conversational = any_conversation
    elif not conversational and any_conversation:
        raise PairwiseError(
            "Some prompts or responses are conversations (several turns or a system turn); they "
            "cannot be exported as plain text. Use the conversational form."
        )

    rows: list[Row] = []
    judgment_ids: list[int] = []
    labelers: set[int] = set()
    simulated = 0
    for cid in sorted(comparisons):
        prompt_id, a_text, b_text = comparisons[cid]
        bucket, agreement, tally = kept[cid]
        messages = prompts[prompt_id]
        if conversational:
            prompt: Any = _clean_messages(messages)

            def wrap(text: str | list) -> Any:
                return (
                    _clean_messages(text)
                    if isinstance(text, list)
                    else [{"role": "assistant", "content": text}]
                )
        else:
            prompt = messages[0].get("content", "") if messages else ""

            def wrap(text: str) -> Any:
                return text

        base = {
            "prompt": prompt,
            "comparison_id": cid,
            "prompt_id": prompt_id,
            "n_votes": sum(tally.votes.values()),
            "agreement": round(agreement, 6),
        }
        if bucket in (_A, _B):
            chosen, rejected = (a_text, b_text) if bucket == _A else (b_text, a_text)
            rows.append({**base, "chosen": wrap(chosen), "rejected": wrap(rejected), "tie": False})
        else:
            rows.append({**base, "chosen": wrap(a_text), "rejected": wrap(b_text), "tie": True})
            rows.append({**base, "chosen": wrap(b_text), "rejected": wrap(a_text), "tie": True})
        judgment_ids.extend(tally.judgment_ids)
        labelers |= tally.labeler_ids
        simulated += tally.simulated

    stats = {
        "n_comparisons": len(comparisons),
        "n_judgments": len(judgment_ids),
        "n_labelers": len(labelers),
        "n_simulated_judgments": simulated,
        "conversational": conversational,
        "judgment_ids_hash": hashlib.sha256(
            ",".join(str(i) for i in sorted(judgment_ids)).encode("ascii")
        ).hexdigest(),
        "excluded_labelers": len(excluded),
        "include_simulated": include_simulated,
    }
    return rows, stats


def preferences_export(
    *,
    project: Project,
    out_path: str | Path,
    fmt: Literal["jsonl", "dataset"] = "jsonl",
    eval_fraction: float = 0.0,
    min_agreement: float = 0.0,
    keep_ties: bool = False,
    seed: int = 0,
    conversational: bool | None = None,
    include_simulated: bool = True,
) -> ExportResult:
    """Write a project's aggregated preferences in TRL's prompt/chosen/rejected format.

    fmt="jsonl": train rows at out_path, eval rows (if eval_fraction > 0) at prefs.eval.jsonl
    beside it. fmt="dataset": a datasets.DatasetDict ("train", and "test" for eval) saved with
    save_to_disk at the directory out_path. Files are replaced atomically.
    """
    if fmt not in ("jsonl", "dataset"):
        raise PairwiseError(f"format must be jsonl or dataset; got {fmt!r}.")
    if not 0.0 <= eval_fraction < 1.0:
        raise PairwiseError(f"eval_fraction must be at least 0 and below 1; got {eval_fraction}.")
    out_path = Path(out_path)
    rows, stats = preferences_rows(
        project=project,
        min_agreement=min_agreement,
        keep_ties=keep_ties,
        conversational=conversational,
        include_simulated=include_simulated,
    )
    eval_prompts = _split_prompts(sorted({r["prompt_id"] for r in rows}), eval_fraction, seed)
    train = [r for r in rows if r["prompt_id"] not in eval_prompts]
    evals = [r for r in rows if r["prompt_id"] in eval_prompts]
    has_eval = eval_fraction > 0

    digest = hashlib.sha256()
    for row in (*train, *evals):
        digest.update(_canonical_line(row).encode("utf-8") + b"\n")

    if fmt == "jsonl":
        eval_path = eval_path_for(out_path) if has_eval else None
        # Both files are written before either is renamed; the train file is renamed first.
        with ExitStack() as stack:
            eval_fh = stack.enter_context(atomic_file(eval_path)) if eval_path is not None else None
            train_fh = stack.enter_context(atomic_file(out_path))
            _write_lines(train_fh, (_canonical_line(r) for r in train))
            if eval_fh is not None:
                _write_lines(eval_fh, (_canonical_line(r) for r in evals))
        train_path = out_path
    else:
        import datasets  # heavy: only when asked for

        splits = {"train": datasets.Dataset.from_list(train)}
        if has_eval:
            splits["test"] = datasets.Dataset.from_list(evals)
        with atomic_dir(out_path, existing="replace") as tmp_dir:
            datasets.DatasetDict(splits).save_to_disk(str(tmp_dir))
        train_path = out_path / "train"
        eval_path = out_path / "test" if has_eval else None

    return ExportResult(
        path=out_path,
        train_path=train_path,
        eval_path=eval_path,
        fmt=fmt,
        n_train=len(train),
        n_eval=len(evals),
        n_comparisons=stats["n_comparisons"],
        n_judgments=stats["n_judgments"],
        n_labelers=stats["n_labelers"],
        conversational=stats["conversational"],
        content_hash=digest.hexdigest(),
        judgment_ids_hash=stats["judgment_ids_hash"],
        n_simulated_judgments=stats["n_simulated_judgments"],
        filters={
            "project": project.name,
            "eval_fraction": eval_fraction,
            "min_agreement": min_agreement,
            "keep_ties": keep_ties,
            "seed": seed,
            "gold": "excluded",
            "excluded_labelers": stats["excluded_labelers"],
            "include_simulated": include_simulated,
            "simulated_judgments": stats["n_simulated_judgments"],
        },
    )


# --- raw judgments -------------------------------------------------------------------------------

# A spreadsheet reads a cell that starts with one of these as a formula (=HYPERLINK(...) from a
# labeler's rationale would run on the manager's machine). OWASP's advice: prefix a single quote.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: None empty, text that a spreadsheet would run as a formula quoted
    with a leading `'`. Every CSV the product writes goes through it."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value


RAW_FIELDS = [
    "judgment_id",
    "comparison_id",
    "prompt_id",
    "response_a_id",
    "response_b_id",
    "source",
    "labeler",
    "labeler_excluded",
    "choice",
    "side_order",
    "winner_id",
    "winner",
    "strength",
    "rationale",
    "seconds_on_task",
    "client_id",
    "assignment_id",
    "is_gold",
    "gold_choice",
    "created_at",
]


def judgments_raw_rows(*, project: Project, include_simulated: bool = True) -> Iterator[Row]:
    """Every judgment of the project, gold included, labelers pseudonymized (no usernames); the
    `source` column says which were simulated. include_simulated=False leaves those out."""
    excluded = excluded_labeler_ids(project=project)
    qs = (
        Judgment.objects.filter(comparison__project=project)
        .order_by("id")
        .values_list(
            "id",
            "comparison_id",
            "comparison__prompt_id",
            "comparison__response_a_id",
            "comparison__response_b_id",
            "source",
            "labeler_id",
            "choice",
            "side_order",
            "winner_id",
            "strength",
            "rationale",
            "seconds_on_task",
            "client_id",
            "assignment_id",
            "comparison__is_gold",
            "comparison__gold_choice",
            "created_at",
        )
    )
    if not include_simulated:
        qs = qs.exclude(source=Judgment.Source.SIMULATED)
    for (
        jid,
        cid,
        prompt_id,
        ra,
        rb,
        source,
        labeler_id,
        choice,
        side_order,
        winner_id,
        strength,
        rationale,
        seconds,
        client_id,
        assignment_id,
        is_gold,
        gold_choice,
        created_at,
    ) in qs.iterator(chunk_size=2000):
        yield {
            "judgment_id": jid,
            "comparison_id": cid,
            "prompt_id": prompt_id,
            "response_a_id": ra,
            "response_b_id": rb,
            "source": source,
            "labeler": labeler_pseudonym(labeler_id),
            "labeler_excluded": labeler_id in excluded,
            "choice": choice,
            "side_order": side_order,
            "winner_id": winner_id,
            # Which stored response won, independent of the side it was shown on.
            "winner": "a" if winner_id == ra else "b" if winner_id == rb else "",
            "strength": strength,
            "rationale": rationale,
            "seconds_on_task": seconds,
            "client_id": client_id,
            "assignment_id": assignment_id,
            "is_gold": is_gold,
            "gold_choice": gold_choice,
            "created_at": created_at.isoformat(),
        }


def judgments_export_raw(
    *,
    project: Project,
    out_path: str | Path,
    fmt: Literal["jsonl", "csv"] = "jsonl",
    include_simulated: bool = True,
) -> int:
    """Write every judgment of a project for analysis (JSONL or CSV), atomically. Returns the count."""
    if fmt not in ("jsonl", "csv"):
        raise PairwiseError(f"raw format must be jsonl or csv; got {fmt!r}.")
    out_path = Path(out_path)
    n = 0
    with atomic_file(out_path, newline="") as fh:
        if fmt == "csv":
            writer = csv.DictWriter(fh, fieldnames=RAW_FIELDS)
            writer.writeheader()
        for row in judgments_raw_rows(project=project, include_simulated=include_simulated):
            if fmt == "csv":
                writer.writerow({k: csv_cell(v) for k, v in row.items()})
            else:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n
