"""Preference pairs on disk: TRL's prompt/chosen/rejected rows and Anthropic HH rows.

Two formats are read:

- **trl** (JSONL, or a JSON list): `{"prompt": ..., "chosen": ..., "rejected": ...}` where each
  field is plain text or a list of chat messages (`[{"role": "user", "content": "..."}]`). This
  is what `preferences_export` writes and what TRL's RewardTrainer reads. The prompt may be left
  out (implicit prompt: chosen and rejected carry the whole conversation).
- **hh** (JSONL): Anthropic's helpful/harmless format, `{"chosen": "\\n\\nHuman: ...\\n\\nAssistant:
  ...", "rejected": "..."}`: two transcripts that share every turn but the last assistant one.
  `parse_hh_pair` splits them into a conversation prompt and the two final answers.

Training and scoring see every pair in one shape, the conversational one (`as_conversation`),
so the reward model reads the same chat-template text when it trains and when it scores.

No Django and no heavy imports here; the importer (`import_data --format hh`) can reuse
`parse_hh_pair`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Messages = list[dict[str, str]]
Pair = dict[str, Messages]  # {"prompt": [...], "chosen": [assistant], "rejected": [assistant]}

FORMATS = ("auto", "trl", "hh")

# "\n\nHuman: " / "\n\nAssistant: " open a turn. The leading blank line is optional at the very
# start of a transcript, and some rows put no space after the colon.
_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


class PairFormatError(ValueError):
    """A pairs file or row is not in the expected format; the message says where and why."""


@dataclass(frozen=True)
class HHPair:
    messages: Messages  # the shared conversation up to the final assistant turn
    chosen: str
    rejected: str


def hh_turns(transcript: str) -> Messages:
    """Split an HH transcript into chat messages.

    >>> hh_turns("\\n\\nHuman: Hi\\n\\nAssistant: Hello!")
    [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello!'}]
    """
    marks = list(_HH_TURN.finditer(transcript))
    if not marks:
        raise PairFormatError("no 'Human:' or 'Assistant:' turn found")
    if transcript[: marks[0].start()].strip():
        raise PairFormatError("text before the first 'Human:' turn")
    messages = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(transcript)
        messages.append({"role": _HH_ROLES[mark.group(1)], "content": transcript[mark.end() : end].strip()})
    return messages


def parse_hh_pair(chosen: str, rejected: str) -> HHPair:
    """The shared prompt and the two final answers of an HH row.

    Both transcripts must end with an assistant turn and agree on every turn before it.

    >>> p = parse_hh_pair("\\n\\nHuman: 2+2?\\n\\nAssistant: 4", "\\n\\nHuman: 2+2?\\n\\nAssistant: 5")
    >>> p.messages, p.chosen, p.rejected
    ([{'role': 'user', 'content': '2+2?'}], '4', '5')
    """
    if not isinstance(chosen, str) or not isinstance(rejected, str):
        raise PairFormatError("'chosen' and 'rejected' must be strings")
    c_turns, r_turns = hh_turns(chosen), hh_turns(rejected)
    for name, turns in (("chosen", c_turns), ("rejected", r_turns)):
        if turns[-1]["role"] != "assistant":
            raise PairFormatError(f"'{name}' does not end with an 'Assistant:' turn")
        if len(turns) < 2:
            raise PairFormatError(f"'{name}' has no 'Human:' turn before the answer")
    if c_turns[:-1] != r_turns[:-1]:
        raise PairFormatError("'chosen' and 'rejected' differ before their last 'Assistant:' turn")
    return HHPair(messages=c_turns[:-1], chosen=c_turns[-1]["content"], rejected=r_turns[-1]["content"])


def _messages(value: Any, *, role: str, field: str) -> Messages:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return [{"role": str(m.get("role", role)), "content": str(m["content"])} for m in value]
    raise PairFormatError(f"'{field}' must be text or a list of {{role, content}} messages")


def as_conversation(row: dict[str, Any]) -> Pair:
    """A TRL row (plain or conversational, explicit or implicit prompt) in conversational form.

    Plain text becomes one user turn (prompt) and one assistant turn (each answer). An implicit
    prompt (no "prompt" key, whole conversations in chosen/rejected) is split at the last turn.
    """
    for key in ("chosen", "rejected"):
        if key not in row:
            raise PairFormatError(f"missing '{key}'")
    chosen = _messages(row["chosen"], role="assistant", field="chosen")
    rejected = _messages(row["rejected"], role="assistant", field="rejected")
    if row.get("prompt") is not None:
        prompt = _messages(row["prompt"], role="user", field="prompt")
    elif len(chosen) > 1 and chosen[:-1] == rejected[:-1]:
        prompt, chosen, rejected = chosen[:-1], chosen[-1:], rejected[-1:]
    else:
        raise PairFormatError("no 'prompt', and chosen/rejected do not share a conversation")
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def detect_format(row: dict[str, Any]) -> str:
    """'hh' for HH transcripts, 'trl' otherwise."""
    chosen = row.get("chosen")
    if "prompt" not in row and isinstance(chosen, str) and _HH_TURN.search(chosen):
        return "hh"
    return "trl"


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for a JSONL file, or for a JSON file holding a list."""
    with path.open(encoding="utf-8") as fh:
        head = fh.read(1)
        while head and head.isspace():
            head = fh.read(1)
        fh.seek(0)
        if head == "[":
            try:
                data = json.load(fh)
            except json.JSONDecodeError as exc:
                raise PairFormatError(f"{path}: not valid JSON ({exc})") from exc
            if not isinstance(data, list):
                raise PairFormatError(f"{path}: a JSON file must hold a list of pairs")
            yield from enumerate(data, start=1)
            return
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise PairFormatError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc


def read_pairs(path: str | Path, *, fmt: str = "auto", skip_invalid: bool = False) -> list[Pair]:
    """Every pair of a TRL or HH file, in conversational form.

    fmt="auto" decides per file from its first row. A malformed row raises PairFormatError with
    its line number, unless skip_invalid (then it is left out).
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise PairFormatError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if not path.is_file():
        raise PairFormatError(f"{path}: no such file")
    pairs: list[Pair] = []
    for lineno, obj in _rows(path):
        try:
            if not isinstance(obj, dict):
                raise PairFormatError("not a JSON object")
            if fmt == "auto":
                fmt = detect_format(obj)
            if fmt == "hh":
                hh = parse_hh_pair(obj.get("chosen"), obj.get("rejected"))
                pairs.append(
                    {
                        "prompt": hh.messages,
                        "chosen": [{"role": "assistant", "content": hh.chosen}],
                        "rejected": [{"role": "assistant", "content": hh.rejected}],
                    }
                )
            else:
                pairs.append(as_conversation(obj))
        except PairFormatError as exc:
            if not skip_invalid:
                raise PairFormatError(f"{path}:{lineno}: {exc}") from None
    return pairs
