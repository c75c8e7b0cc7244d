"""Preference pairs on disk: TRL's prompt/chosen/rejected rows and Anthropic HH rows.

Two formats are read:

- **trl** (JSONL, or a JSON list): `{"prompt": ..., "chosen": ..., "rejected": ...}` where each
  field is plain text or a list of chat messages (`[{"role": "user", "content": "..."}]`). This
  is what `preferences_export` writes and what TRL's RewardTrainer reads. The prompt may be left
  out (implicit prompt: chosen and rejected carry the whole conversation).
- **hh** (JSONL): Anthropic's helpful/harmless format, `{"chosen": "\\n\\nHuman: ...\\n\\nAssistant:
  ...", "rejected": "..."}`: two transcripts of one conversation. `parse_hh_pair` splits them the
  way TRL's HH script (`examples/datasets/hh-rlhf-helpful-base.py`, `extract_dialogue`) does: the
  prompt is the longest shared run of turns that ends with a Human turn, right before an Assistant turn
  on both sides; the rest of each side is its response. Usually that is one
  Assistant turn, but about 1 pair in 450 of the published data parts earlier (different numbers
  of turns), and then a response is several turns, kept as messages. This is the one HH parser:
  `import_data --format hh` (annotate/importing/parse.py) uses it too, so scoring reads what was
  imported.

Training and scoring see every pair in one shape, the conversational one (`as_conversation`),
so the reward model reads the same chat-template text when it trains and when it scores.

Files are read through `pairwise.files.jsonl` (plain or gzipped, bounded lines). No Django
and no heavy imports here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairwise.files.jsonl import (
    BadLine,
    DataFileError,
    ReadLimits,
    loads_line,
    open_data,
    read_all,
    read_lines,
)

Messages = list[dict[str, str]]
Pair = dict[str, Messages]  # {"prompt": [...], "chosen": [assistant, ...], "rejected": [assistant, ...]}

FORMATS = ("auto", "trl", "hh")

# "\n\nHuman: " / "\n\nAssistant: " open a turn. The leading blank line is optional at the very
# start of a transcript, and some rows put no space after the colon.
_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


class PairFormatError(ValueError):
    """A pairs file or row is not in the expected format; the message says where and why."""


@dataclass(frozen=True)
class HHPair:
    messages: Messages  # the shared conversation, ending with a Human turn
    chosen: Messages  # the rest of each side: one Assistant turn, or several turns
    rejected: Messages


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


def hh_transcript(messages: Messages) -> str:
    """Messages back to HH's transcript form (the text of a response of several turns)."""
    names = {"user": "Human", "assistant": "Assistant"}
    return "\n\n".join(f"{names.get(m['role'], m['role'])}: {m['content']}" for m in messages)


def _prompt_end(chosen: Messages, rejected: Messages) -> int:
    """Length of the prompt: the longest shared run of turns that ends with a Human turn and is
    followed by an Assistant turn on both sides (0: there is none)."""
    shared = 0
    while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
        shared += 1
    for end in range(shared, 0, -1):
        if (
            chosen[end - 1]["role"] == "user"
            and end < len(chosen)
            and end < len(rejected)
            and chosen[end]["role"] == rejected[end]["role"] == "assistant"
        ):
            return end
    return 0


def parse_hh_pair(chosen: Any, rejected: Any) -> HHPair:
    """The shared prompt and the two responses of an HH row.

    Both transcripts must end with an Assistant turn, differ, and share at least the first Human
    turn. Where they part before their last Assistant turn, the responses are several turns.

    >>> p = parse_hh_pair("\\n\\nHuman: 2+2?\\n\\nAssistant: 4", "\\n\\nHuman: 2+2?\\n\\nAssistant: 5")
    >>> p.messages, p.chosen, p.rejected
    ([{'role': 'user', 'content': '2+2?'}], [{'role': 'assistant', 'content': '4'}], [{'role': 'assistant', 'content': '5'}])
    """
    if not isinstance(chosen, str) or not isinstance(rejected, str):
        raise PairFormatError("'chosen' and 'rejected' must be strings")
    sides = {}
    for name, text in (("chosen", chosen), ("rejected", rejected)):
        if not text.strip():
            raise PairFormatError(f"'{name}' is empty")
        try:
            turns = hh_turns(text)
        except PairFormatError as exc:
            raise PairFormatError(f"'{name}': {exc}") from None
        if turns[-1]["role"] != "assistant":
            raise PairFormatError(f"'{name}' does not end with an 'Assistant:' turn")
        sides[name] = turns
    c_turns, r_turns = sides["chosen"], sides["rejected"]
    if c_turns == r_turns:
        raise PairFormatError("'chosen' and 'rejected' are the same conversation")
    end = _prompt_end(c_turns, r_turns)
    if end == 0:
        raise PairFormatError("'chosen' and 'rejected' share no 'Human:' turn before their answers")
    return HHPair(messages=c_turns[:end], chosen=c_turns[end:], rejected=r_turns[end:])


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


def _first_char(path: Path, limits: ReadLimits) -> bytes:
    with open_data(path, limits) as stream:
        for _ in range(limits.max_line_bytes):
            char = stream.read(1)
            if not char or not char.isspace():
                return char
    return b""


def _rows(path: Path, limits: ReadLimits) -> Iterator[tuple[int, Any]]:
    """(line number, object) for a JSONL(.gz) file, or for a JSON file holding a list.

    A line that is not JSON comes as (line number, BadLine).
    """
    if _first_char(path, limits) == b"[":
        with open_data(path, limits) as stream:
            try:
                data = loads_line(read_all(stream, limits), first=True)
            except BadLine as exc:
                raise PairFormatError(f"{path}: {exc}") from None
        if not isinstance(data, list):
            raise PairFormatError(f"{path}: a JSON file must hold a list of pairs")
        yield from enumerate(data, start=1)
        return
    with open_data(path, limits) as stream:
        for lineno, raw in read_lines(stream, limits):
            if not raw.strip():
                continue
            try:
                yield lineno, loads_line(raw, first=lineno == 1)
            except BadLine as exc:
                yield lineno, exc


def hh_pair(obj: Any) -> Pair:
    """An HH row in conversational form."""
    if not isinstance(obj, dict):
        raise PairFormatError("not a JSON object")
    hh = parse_hh_pair(obj.get("chosen"), obj.get("rejected"))
    return {"prompt": hh.messages, "chosen": hh.chosen, "rejected": hh.rejected}


def read_pairs(
    path: str | Path,
    *,
    fmt: str = "auto",
    skip_invalid: bool = False,
    limits: ReadLimits | None = None,
) -> list[Pair]:
    """Every pair of a TRL or HH file (JSONL, gzipped or not, or a JSON list), in conversational form.

    fmt="auto" decides per file from its first row. A malformed row raises PairFormatError with
    its line number, unless skip_invalid (then it is left out). A file over `limits` raises
    PairFormatError whatever skip_invalid says.
    """
    limits = limits or ReadLimits()
    path = Path(path)
    if fmt not in FORMATS:
        raise PairFormatError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if not path.is_file():
        raise PairFormatError(f"{path}: no such file")
    pairs: list[Pair] = []
    try:
        for lineno, obj in _rows(path, limits):
            try:
                if isinstance(obj, BadLine):
                    raise PairFormatError(str(obj))
                if not isinstance(obj, dict):
                    raise PairFormatError("not a JSON object")
                if fmt == "auto":
                    fmt = detect_format(obj)
                pairs.append(hh_pair(obj) if fmt == "hh" else as_conversation(obj))
            except PairFormatError as exc:
                if not skip_invalid:
                    raise PairFormatError(f"{path}:{lineno}: {exc}") from None
    except DataFileError as exc:
        raise PairFormatError(f"{path}: {exc}") from None
    return pairs
