"""Reading JSONL data files, plain or gzipped, with bounds. No Django, no heavy imports.

Every command that takes a data file (import_data, score_pairs, the reward trainer) reads it
through `open_data` / `read_lines`, so `.jsonl` and `.jsonl.gz` are read alike: gzip is detected by
its magic bytes, not by the name.

A file is read line by line with a bounded readline, so one huge line (a 200 KB gzip that inflates
to one 200 MB line) never sits in memory whole. Three limits, each named in the error it raises:
- max_line_bytes: one line, decompressed;
- max_file_bytes: the file as stored (compressed, if it is);
- max_inflated_bytes: the whole content, decompressed.
The Django side passes its settings (PAIRWISE_IMPORT_MAX_*); the defaults here are the same.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"
MiB = 1024 * 1024


class DataFileError(ValueError):
    """The file cannot be read as a whole (corrupt, or over a limit); the message says why."""


@dataclass(frozen=True)
class ReadLimits:
    max_line_bytes: int = MiB
    max_file_bytes: int = 512 * MiB
    max_inflated_bytes: int = 2048 * MiB

    @classmethod
    def from_settings(cls, settings: Any) -> ReadLimits:
        """The limits a Django settings object names (PAIRWISE_IMPORT_MAX_*), defaults otherwise."""
        default = cls()
        return cls(
            max_line_bytes=getattr(settings, "PAIRWISE_IMPORT_MAX_LINE_BYTES", default.max_line_bytes),
            max_file_bytes=getattr(settings, "PAIRWISE_IMPORT_MAX_FILE_BYTES", default.max_file_bytes),
            max_inflated_bytes=getattr(
                settings, "PAIRWISE_IMPORT_MAX_INFLATED_BYTES", default.max_inflated_bytes
            ),
        )


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the stored file and stops past max_file_bytes."""

    def __init__(self, fh: IO[bytes], limit: int) -> None:
        self._fh, self._limit, self.count = fh, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._fh.read(len(buffer))
        self.count += len(data)
        if self.count > self._limit:
            raise DataFileError(
                f"the file is larger than {self._limit} bytes (limit: PAIRWISE_IMPORT_MAX_FILE_BYTES)"
            )
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def open_data(source: str | Path | IO[bytes], limits: ReadLimits | None = None) -> Iterator[IO[bytes]]:
    """A binary stream over the content of a file or an open binary stream, gunzipped if it is gzip.

    Reading past limits.max_file_bytes of the stored file raises DataFileError.
    """
    limits = limits or ReadLimits()
    fh: IO[bytes] = open(source, "rb") if isinstance(source, str | Path) else source
    try:
        head = fh.read(2)
        fh.seek(0)
        counted = io.BufferedReader(_CountingReader(fh, limits.max_file_bytes), buffer_size=1 << 16)
        yield gzip.GzipFile(fileobj=counted, mode="rb") if head == GZIP_MAGIC else counted
    finally:
        if isinstance(source, str | Path):
            fh.close()


def read_lines(stream: IO[bytes], limits: ReadLimits | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for every line, each read with a bounded readline.

    Raises DataFileError for a line over max_line_bytes or a content over max_inflated_bytes, and
    for a corrupt or truncated gzip stream.
    """
    limits = limits or ReadLimits()
    total = 0
    number = 0
    try:
        while True:
            raw = stream.readline(limits.max_line_bytes + 1)
            if not raw:
                return
            number += 1
            total += len(raw)
            if len(raw) > limits.max_line_bytes:
                raise DataFileError(
                    f"line {number} is longer than {limits.max_line_bytes} bytes "
                    "(limit: PAIRWISE_IMPORT_MAX_LINE_BYTES)"
                )
            if total > limits.max_inflated_bytes:
                raise DataFileError(
                    f"the content is larger than {limits.max_inflated_bytes} bytes once decompressed "
                    "(limit: PAIRWISE_IMPORT_MAX_INFLATED_BYTES)"
                )
            yield number, raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # a truncated or corrupt gzip stream
        raise DataFileError(f"the file cannot be read: {exc}") from None


def read_records(path: str | Path, limits: ReadLimits | None = None) -> list[Any]:
    """Every value of a JSONL(.gz) data file, blank lines skipped (the trainers' command lines).
    Raises DataFileError for the file, BadLine for a line."""
    with open_data(path, limits) as stream:
        return [
            loads_line(raw, first=number == 1) for number, raw in read_lines(stream, limits) if raw.strip()
        ]


def read_all(stream: IO[bytes], limits: ReadLimits | None = None) -> bytes:
    """The whole content (a JSON file holding a list), at most max_inflated_bytes."""
    limits = limits or ReadLimits()
    try:
        data = stream.read(limits.max_inflated_bytes + 1)
    except (OSError, EOFError) as exc:
        raise DataFileError(f"the file cannot be read: {exc}") from None
    if len(data) > limits.max_inflated_bytes:
        raise DataFileError(
            f"the content is larger than {limits.max_inflated_bytes} bytes once decompressed "
            "(limit: PAIRWISE_IMPORT_MAX_INFLATED_BYTES)"
        )
    return data


# --- one line -> one JSON value --------------------------------------------------------------------

# Deeper than this is no data we read (free-form objects such as generation params included);
# deeper values also reach recursion limits in json and in the database.
MAX_JSON_DEPTH = 32


class BadLine(ValueError):
    """One line that is not a usable JSON value; the message does not name the line."""


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; PostgreSQL's jsonb refuses them.
    raise BadLine(f"not valid JSON ({name} is not a JSON number)")


# One decoder: building one per call (json.loads with a hook) cost more than the parsing.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _check_values(value: Any) -> None:
    """Depth, and strings the databases cannot store: NUL (PostgreSQL) and unpaired surrogates."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BadLine("text contains a NUL character (\\u0000), which the database cannot store")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadLine(
                    "text contains an unpaired surrogate (\\ud800-\\udfff); not valid Unicode"
                ) from None
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadLine(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def loads_line(raw: bytes, *, first: bool = False) -> Any:
    """Parse one raw line (or a whole JSON file); raises BadLine saying what is wrong.

    Besides invalid UTF-8 and JSON: NaN/Infinity, numbers Python will not parse, nesting deeper
    than MAX_JSON_DEPTH, NUL characters and unpaired surrogates, so that no such value reaches
    the database (where SQLite and PostgreSQL would treat them differently).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadLine("not UTF-8 text") from None
    if first:
        text = text.lstrip("\ufeff")
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise BadLine(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        if isinstance(exc, BadLine):
            raise
        raise BadLine(f"not valid JSON ({exc})") from None
    # Only escapes make NULs and surrogates (raw control characters are invalid JSON), and only
    # many brackets make depth: most lines skip the walk.
    if b"\\u" in raw or raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        _check_values(value)
    return value
