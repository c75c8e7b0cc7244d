"""Read and validate import files: JSONL, optionally gzipped (detected by magic bytes). No database.

Files are read through pairwise.files.jsonl, as every data file is: bounded lines, and the
limits PAIRWISE_IMPORT_MAX_LINE_BYTES / _FILE_BYTES / _INFLATED_BYTES (a file over one is
rejected, naming it). Every value that reaches the database is checked here, so a bad one is a
line error on SQLite and PostgreSQL alike, never a database error: NUL characters, unpaired
surrogates, NaN, nesting deeper than MAX_JSON_DEPTH, seeds outside a 64-bit integer.

Import has two phases, so a bad file writes nothing:
1. parse (here): every line is read and validated into a Record; the first bad lines are reported
   as "line 17: field 'chosen' is missing" and the whole file is rejected.
2. write (annotate/importing/write.py): one transaction; rows are found again by content hash, so
   importing the same file twice creates nothing the second time.

Formats (one JSON object per line):
- prompts:   {"prompt": "text" | [messages]} (or "messages": [...]), optional "reference_answer",
             "tags" (list or string), "split" (train|heldout), "source"
- responses: the prompt fields + "responses": [{"text": ..., "model": ..., "params": {...},
             "seed": 1} | "text", ...]
- trl:       {"prompt", "chosen", "rejected"}: plain strings, or conversational (prompt = messages,
             chosen/rejected = [{"role": "assistant", ...}]); without "prompt", chosen/rejected
             are whole conversations and their shared prefix is the prompt (TRL's implicit form)
- hh:        Anthropic HH-RLHF: {"chosen", "rejected"} transcripts of "\\n\\nHuman: " /
             "\\n\\nAssistant: " turns, split by pairwise.files.pairs.parse_hh_pair (the
             parser score_pairs uses): the shared turns up to a Human turn are the prompt, the
             rest of each side its response. Where the sides part before their last Assistant
             turn, a response is several turns: stored as messages, its text the transcript.
             Identical sides are a bad line (skipped with skip_invalid, like any bad line).
- gsm8k:     {"question", "answer"}, the answer ending in "#### N": N becomes the reference
             answer; the worked solution is kept as a response with model name "gsm8k:reference"
A preference (trl, hh) becomes a comparison plus one external judgment preferring the chosen
response; it does not count towards the comparison's human judgments (overlap k). Pairs whose
two responses are identical are skipped and counted (trl).

With skip_invalid, bad lines are left out and counted (the first are listed) instead of rejecting
the file; limits on the file's size are never skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from tqdm import tqdm

from annotate.models import Prompt
from pairwise.errors import PairwiseError
from pairwise.files.jsonl import BadLine, DataFileError, ReadLimits, loads_line, open_data, read_lines
from pairwise.files.pairs import PairFormatError, hh_transcript, parse_hh_pair

FORMATS = ("prompts", "responses", "trl", "hh", "gsm8k")
ROLES = ("system", "user", "assistant")
MAX_REPORTED_ERRORS = 10
# Response.seed is a BigIntegerField.
SEED_RANGE = range(-(2**63), 2**63)


class ImportFileError(PairwiseError):
    """The file was rejected; `errors` lists the first bad lines, the message names them."""

    code = "import_invalid"

    def __init__(self, errors: list[str], *, n_bad: int | None = None) -> None:
        n_bad = n_bad if n_bad is not None else len(errors)
        message = errors[0]
        if n_bad > 1:
            others = ", ".join(e.split(":", 1)[0] for e in errors[1:MAX_REPORTED_ERRORS])
            more = " …" if n_bad > MAX_REPORTED_ERRORS else ""
            message += f" ({n_bad - 1} more bad lines: {others}{more})"
        super().__init__(message + ". Nothing was imported.")
        self.errors = errors
        self.n_bad = n_bad


class LineError(Exception):
    """One bad line; collected by parse_records."""


@dataclass
class ResponseSpec:
    text: str
    model_name: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    # A response of several turns (an HH side that parts before the last Assistant turn); then
    # `text` is its transcript. Empty for the usual single answer.
    messages: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Record:
    """One validated line, whatever its format: a prompt, its responses, maybe a preference."""

    line: int
    messages: list[dict[str, str]]
    reference_answer: str = ""
    tags: list[str] = field(default_factory=list)
    split: str | None = None
    source: str = ""
    responses: list[ResponseSpec] = field(default_factory=list)
    # (chosen, rejected) as indexes into responses.
    preference: tuple[int, int] | None = None


@dataclass
class ParsedFile:
    records: list[Record]
    lines: int
    file_hash: str
    skipped_identical: int = 0
    # With skip_invalid: how many bad lines were left out, and the first of them ("line 3: ...").
    skipped_invalid: int = 0
    invalid_lines: list[str] = field(default_factory=list)


# --- reading -------------------------------------------------------------------------------------


def iter_json_lines(
    source: str | Path | IO[bytes], digest: Any | None = None, *, limits: ReadLimits | None = None
) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for every non-blank line; `digest` sees every raw line.

    A line that is not usable JSON comes as (line number, LineError), so the caller can go on and
    report several bad lines at once. A file over a limit, or a corrupt gzip stream, raises
    ImportFileError.
    """
    limits = limits or ReadLimits.from_settings(settings)
    try:
        with open_data(source, limits) as stream:
            for number, raw in read_lines(stream, limits):
                if digest is not None:
                    digest.update(raw)
                if not raw.strip():
                    continue
                try:
                    yield number, loads_line(raw, first=number == 1)
                except BadLine as exc:
                    yield number, LineError(f"line {number}: {exc}")
    except DataFileError as exc:
        raise ImportFileError([str(exc)]) from None


# --- field validation ----------------------------------------------------------------------------


def _missing(field_name: str) -> LineError:
    return LineError(f"field '{field_name}' is missing")


def _text(obj: dict, key: str, *, required: bool = True, allow_empty: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise _missing(key)
        return ""
    if not isinstance(value, str):
        raise LineError(f"field '{key}' must be a string, got {type(value).__name__}")
    if required and not allow_empty and not value.strip():
        raise LineError(f"field '{key}' is empty")
    return value


def _messages(value: Any, key: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise LineError(f"field '{key}' must be a non-empty list of messages")
    out = []
    for i, message in enumerate(value, start=1):
        if not isinstance(message, dict):
            raise LineError(f"field '{key}' message {i} must be an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise LineError(
                f"field '{key}' message {i} has role {role!r}; expected system, user or assistant"
            )
        if not isinstance(content, str):
            raise LineError(f"field '{key}' message {i} needs a string 'content'")
        out.append({"role": role, "content": content})
    return out


def _prompt_messages(obj: dict, key: str = "prompt") -> list[dict[str, str]]:
    value = obj.get(key)
    if value is None and key == "prompt" and "messages" in obj:
        key, value = "messages", obj["messages"]
    if value is None:
        raise _missing(key)
    if isinstance(value, str):
        if not value.strip():
            raise LineError(f"field '{key}' is empty")
        return [{"role": "user", "content": value}]
    messages = _messages(value, key)
    if not any(m["role"] == "user" for m in messages):
        raise LineError(f"field '{key}' has no user message")
    return messages


def _prompt_extras(obj: dict, record: Record) -> None:
    ref = obj.get("reference_answer")
    if ref is not None:
        if isinstance(ref, bool) or not isinstance(ref, str | int | float):
            raise LineError("field 'reference_answer' must be a string or a number")
        record.reference_answer = str(ref).strip()
    tags = obj.get("tags")
    if tags is not None:
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise LineError("field 'tags' must be a list of strings")
        record.tags = tags
    split = obj.get("split")
    if split is not None:
        if split not in Prompt.Split.values:
            raise LineError(f"field 'split' must be train or heldout, got {split!r}")
        record.split = split
    record.source = _text(obj, "source", required=False)[:200]


def _response_spec(item: Any, index: int) -> ResponseSpec:
    key = f"responses[{index}]"
    if isinstance(item, str):
        return ResponseSpec(text=item)
    if not isinstance(item, dict):
        raise LineError(f"field '{key}' must be a string or an object with 'text'")
    text = item.get("text")
    if text is None:
        raise _missing(f"{key}.text")
    if not isinstance(text, str):
        raise LineError(f"field '{key}.text' must be a string")
    model = item.get("model", item.get("model_name", ""))
    if not isinstance(model, str):
        raise LineError(f"field '{key}.model' must be a string")
    params = item.get("params", item.get("generation_params", {}))
    if not isinstance(params, dict):
        raise LineError(f"field '{key}.params' must be an object")
    seed = item.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise LineError(f"field '{key}.seed' must be an integer")
    if seed is not None and seed not in SEED_RANGE:
        raise LineError(f"field '{key}.seed' must fit in a 64-bit signed integer")
    return ResponseSpec(text=text, model_name=model[:200], params=params, seed=seed)


# --- formats -------------------------------------------------------------------------------------


def parse_prompts(obj: dict, line: int) -> Record:
    record = Record(line=line, messages=_prompt_messages(obj))
    _prompt_extras(obj, record)
    return record


def parse_responses(obj: dict, line: int) -> Record:
    record = parse_prompts(obj, line)
    items = obj.get("responses")
    if items is None:
        raise _missing("responses")
    if not isinstance(items, list) or not items:
        raise LineError("field 'responses' must be a non-empty list")
    record.responses = [_response_spec(item, i) for i, item in enumerate(items)]
    return record


def _assistant_text(value: Any, key: str) -> str:
    """A TRL completion: a string, or one assistant message."""
    if isinstance(value, str):
        return value
    messages = _messages(value, key)
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise LineError(f"field '{key}' must be one assistant message (or a string)")
    return messages[0]["content"]


def _split_shared_prefix(
    chosen: list[dict[str, str]], rejected: list[dict[str, str]], *, names: tuple[str, str]
) -> tuple[list[dict[str, str]], str, str] | None:
    """(prompt messages, chosen text, rejected text) of two conversations; None when identical."""
    if chosen == rejected:
        return None
    for key, conv in zip(names, (chosen, rejected), strict=True):
        if conv[-1]["role"] != "assistant":
            raise LineError(f"field '{key}' does not end with an Assistant turn")
    shared = 0
    while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
        shared += 1
    if shared != len(chosen) - 1 or shared != len(rejected) - 1:
        # Equal prefixes but one transcript has extra turns, or they diverge before the end.
        raise LineError(
            f"fields '{names[0]}' and '{names[1]}' differ before their last Assistant turn; "
            "expected the same conversation with a different final answer"
        )
    prompt = chosen[:shared]
    if not any(m["role"] == "user" for m in prompt):
        raise LineError(f"fields '{names[0]}' and '{names[1]}' share no Human turn to use as the prompt")
    return prompt, chosen[-1]["content"], rejected[-1]["content"]


def _preference_record(
    line: int, prompt: list[dict[str, str]], chosen: str, rejected: str, label: str
) -> Record:
    return Record(
        line=line,
        messages=prompt,
        responses=[
            ResponseSpec(text=chosen, model_name=label),
            ResponseSpec(text=rejected, model_name=label),
        ],
        preference=(0, 1),
    )


def parse_trl(obj: dict, line: int) -> Record | None:
    for key in ("chosen", "rejected"):
        if key not in obj or obj[key] is None:
            raise _missing(key)
    if obj.get("prompt") is None:
        if not (isinstance(obj["chosen"], list) and isinstance(obj["rejected"], list)):
            raise _missing("prompt")
        split = _split_shared_prefix(
            _messages(obj["chosen"], "chosen"),
            _messages(obj["rejected"], "rejected"),
            names=("chosen", "rejected"),
        )
        if split is None:
            return None
        prompt, chosen, rejected = split
    else:
        prompt = _prompt_messages(obj)
        chosen, rejected = (
            _assistant_text(obj["chosen"], "chosen"),
            _assistant_text(obj["rejected"], "rejected"),
        )
        if chosen == rejected:
            return None
    record = _preference_record(line, prompt, chosen, rejected, "import:trl")
    _prompt_extras(obj, record)
    return record


def _hh_response(turns: list[dict[str, str]]) -> ResponseSpec:
    if len(turns) == 1:
        return ResponseSpec(text=turns[0]["content"], model_name="import:hh")
    return ResponseSpec(text=hh_transcript(turns), model_name="import:hh", messages=turns)


def parse_hh(obj: dict, line: int) -> Record:
    for key in ("chosen", "rejected"):
        if obj.get(key) is None:
            raise _missing(key)
    try:
        pair = parse_hh_pair(obj.get("chosen"), obj.get("rejected"))
    except PairFormatError as exc:
        raise LineError(str(exc)) from None
    return Record(
        line=line,
        messages=pair.messages,
        responses=[_hh_response(pair.chosen), _hh_response(pair.rejected)],
        preference=(0, 1),
    )


_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.S)
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def parse_gsm8k(obj: dict, line: int) -> Record:
    question = _text(obj, "question")
    answer = _text(obj, "answer")
    match = _GSM8K_FINAL.search(answer)
    final = match.group(1).replace(",", "").strip() if match else ""
    if not _NUMBER.fullmatch(final):
        raise LineError("field 'answer' must end with '#### <number>'")
    record = Record(
        line=line,
        messages=[{"role": "user", "content": question}],
        reference_answer=final,
        responses=[ResponseSpec(text=answer, model_name="gsm8k:reference")],
    )
    _prompt_extras({k: v for k, v in obj.items() if k != "reference_answer"}, record)
    return record


PARSERS: dict[str, Callable[[dict, int], Record | None]] = {
    "prompts": parse_prompts,
    "responses": parse_responses,
    "trl": parse_trl,
    "hh": parse_hh,
    "gsm8k": parse_gsm8k,
}


def parse_records(
    source: str | Path | IO[bytes],
    *,
    fmt: str,
    show_progress: bool = False,
    skip_invalid: bool = False,
    limits: ReadLimits | None = None,
) -> ParsedFile:
    """Read and validate a whole file. Raises ImportFileError naming the first bad lines, or,
    with skip_invalid, leaves them out and counts them (a file with no good line is rejected)."""
    if fmt not in PARSERS:
        raise PairwiseError(f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}.")
    parser = PARSERS[fmt]
    digest = hashlib.sha256()
    records: list[Record] = []
    errors: list[str] = []
    n_bad = lines = skipped = 0
    bar = tqdm(desc="reading", unit=" lines", disable=not show_progress, file=sys.stderr, mininterval=0.5)
    for number, obj in iter_json_lines(source, digest, limits=limits):
        lines += 1
        bar.update()
        try:
            if isinstance(obj, LineError):
                raise obj
            if not isinstance(obj, dict):
                raise LineError(f"expected a JSON object, got {type(obj).__name__}")
            record = parser(obj, number)
        except LineError as exc:
            n_bad += 1
            text = str(exc)
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(text if text.startswith("line ") else f"line {number}: {text}")
            continue
        if record is None:
            skipped += 1
        else:
            records.append(record)
    bar.close()
    if errors and not (skip_invalid and (records or skipped)):
        raise ImportFileError(errors, n_bad=n_bad)
    if lines == 0:
        raise ImportFileError(["the file has no records"])
    return ParsedFile(
        records=records,
        lines=lines,
        file_hash=digest.hexdigest(),
        skipped_identical=skipped,
        skipped_invalid=n_bad,
        invalid_lines=errors,
    )


def jsonl_bytes(rows: Iterable[dict], *, gzipped: bool = False) -> bytes:
    """Rows -> JSONL bytes (tests, benchmarks, the demo)."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if gzipped:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(data)
        return buf.getvalue()
    return data
