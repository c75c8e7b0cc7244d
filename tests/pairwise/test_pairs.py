from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pairwise.files.jsonl import ReadLimits
from pairwise.files.pairs import (
    PairFormatError,
    as_conversation,
    hh_transcript,
    hh_turns,
    parse_hh_pair,
    read_pairs,
)

HH_CHOSEN = "\n\nHuman: What is 2+2?\n\nAssistant: It is 4.\n\nHuman: And 3+3?\n\nAssistant: 6."
HH_REJECTED = (
    "\n\nHuman: What is 2+2?\n\nAssistant: It is 4.\n\nHuman: And 3+3?\n\nAssistant: Seven, I think."
)


def test_it_splits_an_hh_pair_into_the_shared_conversation_and_two_answers():
    pair = parse_hh_pair(HH_CHOSEN, HH_REJECTED)
    assert pair.messages == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "It is 4."},
        {"role": "user", "content": "And 3+3?"},
    ]
    assert pair.chosen == [{"role": "assistant", "content": "6."}]
    assert pair.rejected == [{"role": "assistant", "content": "Seven, I think."}]


def test_it_keeps_blank_lines_and_colons_inside_a_turn():
    turns = hh_turns("Human: Write a list:\nA: one\n\nB: two\n\nAssistant: Human: is a word too")
    assert turns == [
        {"role": "user", "content": "Write a list:\nA: one\n\nB: two"},
        {"role": "assistant", "content": "Human: is a word too"},
    ]


def test_it_accepts_an_empty_final_answer():
    pair = parse_hh_pair("\n\nHuman: hi\n\nAssistant: hello", "\n\nHuman: hi\n\nAssistant:")
    assert pair.rejected == [{"role": "assistant", "content": ""}]


@pytest.mark.parametrize(
    ("chosen", "rejected", "message"),
    [
        ("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: x\n\nAssistant: c", "share no 'Human:' turn"),
        ("\n\nHuman: a\n\nAssistant: b\n\nHuman: more?", "\n\nHuman: a\n\nAssistant: c", "does not end"),
        ("just text", "\n\nHuman: a\n\nAssistant: c", "no 'Human:'"),
        ("preamble\n\nHuman: a\n\nAssistant: b", "\n\nHuman: a\n\nAssistant: c", "before the first"),
        ("\n\nAssistant: b", "\n\nAssistant: c", "share no 'Human:' turn before"),
        ("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: a\n\nAssistant: b", "the same conversation"),
        ("\n\nHuman: a\n\nAssistant: b", "  ", "'rejected' is empty"),
        (None, "\n\nHuman: a\n\nAssistant: c", "must be strings"),
    ],
)
def test_it_rejects_malformed_hh_rows_with_a_reason(chosen, rejected, message):
    with pytest.raises(PairFormatError, match=message):
        parse_hh_pair(chosen, rejected)


def test_it_puts_plain_and_implicit_prompt_rows_in_conversational_form():
    plain = as_conversation({"prompt": "Q?", "chosen": "yes", "rejected": "no", "agreement": 1.0})
    assert plain == {
        "prompt": [{"role": "user", "content": "Q?"}],
        "chosen": [{"role": "assistant", "content": "yes"}],
        "rejected": [{"role": "assistant", "content": "no"}],
    }
    user = {"role": "user", "content": "Q?"}
    implicit = as_conversation(
        {
            "chosen": [user, {"role": "assistant", "content": "yes"}],
            "rejected": [user, {"role": "assistant", "content": "no"}],
        }
    )
    assert implicit == plain


def test_it_reads_trl_and_hh_files_and_detects_the_format(tmp_path):
    trl = tmp_path / "trl.jsonl"
    trl.write_text(json.dumps({"prompt": "Q?", "chosen": "yes", "rejected": "no"}) + "\n\n")
    hh = tmp_path / "hh.jsonl"
    hh.write_text(json.dumps({"chosen": HH_CHOSEN, "rejected": HH_REJECTED}) + "\n")
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"prompt": "Q?", "chosen": "yes", "rejected": "no"}]))

    assert read_pairs(trl)[0]["chosen"] == [{"role": "assistant", "content": "yes"}]
    assert read_pairs(hh)[0]["rejected"] == [{"role": "assistant", "content": "Seven, I think."}]
    assert read_pairs(hh, fmt="hh") == read_pairs(hh)
    assert read_pairs(listed) == read_pairs(trl)


def test_it_names_the_line_of_a_bad_row(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"prompt": "Q", "chosen": "a", "rejected": "b"}) + "\n" + '{"prompt": "Q"}\n')
    with pytest.raises(PairFormatError, match=r"bad.jsonl:2: missing 'chosen'"):
        read_pairs(path)
    assert len(read_pairs(path, skip_invalid=True)) == 1
    path.write_text("{not json\n")
    with pytest.raises(PairFormatError, match=r"bad.jsonl:1: not valid JSON"):
        read_pairs(path)
    with pytest.raises(PairFormatError, match="no such file"):
        read_pairs(tmp_path / "missing.jsonl")


# --- HH as published: sides that part before their last Assistant turn -------------------------------

HH_QUIRKS = Path(__file__).resolve().parents[1] / "fixtures" / "hh_quirks.jsonl"


def test_it_splits_sides_that_part_before_the_last_turn_as_trl_does():
    """The prompt ends with the last shared Human turn; each side's rest is its response."""
    extra = "\n\nHuman: And 4+4?\n\nAssistant: 8."
    pair = parse_hh_pair(HH_CHOSEN + extra, HH_REJECTED)
    assert pair.messages[-1] == {"role": "user", "content": "And 3+3?"}
    assert pair.chosen == [
        {"role": "assistant", "content": "6."},
        {"role": "user", "content": "And 4+4?"},
        {"role": "assistant", "content": "8."},
    ]
    assert pair.rejected == [{"role": "assistant", "content": "Seven, I think."}]
    # Parting inside a Human turn: the prompt goes back to the Human turn before it.
    pair = parse_hh_pair(
        "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d",
        "\n\nHuman: a\n\nAssistant: b\n\nHuman: C\n\nAssistant: D",
    )
    assert pair.messages == [{"role": "user", "content": "a"}]
    assert [m["content"] for m in pair.chosen] == ["b", "c", "d"]
    assert hh_transcript(pair.rejected) == "Assistant: b\n\nHuman: C\n\nAssistant: D"


def test_the_importer_and_the_scorer_read_the_hh_fixture_identically():
    from annotate.importing.parse import parse_records

    parsed = parse_records(HH_QUIRKS, fmt="hh", skip_invalid=True)
    pairs = read_pairs(HH_QUIRKS, fmt="hh", skip_invalid=True)
    assert parsed.skipped_invalid == 1 and len(parsed.records) == len(pairs) == 4
    for record, pair in zip(parsed.records, pairs, strict=True):
        assert record.messages == pair["prompt"]
        chosen, rejected = (record.responses[i] for i in record.preference)
        for spec, side in ((chosen, pair["chosen"]), (rejected, pair["rejected"])):
            assert (spec.messages or [{"role": "assistant", "content": spec.text}]) == side
    with pytest.raises(PairFormatError, match=r"hh_quirks.jsonl:4: .*same conversation"):
        read_pairs(HH_QUIRKS, fmt="hh")


def test_it_reads_gzipped_files_alike_and_within_limits(tmp_path):
    plain = tmp_path / "hh.jsonl"
    plain.write_bytes(HH_QUIRKS.read_bytes())
    packed = tmp_path / "hh.jsonl.gz"
    packed.write_bytes(gzip.compress(HH_QUIRKS.read_bytes()))
    assert read_pairs(packed, skip_invalid=True) == read_pairs(plain, skip_invalid=True)
    listed = tmp_path / "list.json.gz"
    listed.write_bytes(
        gzip.compress(json.dumps([{"prompt": "Q?", "chosen": "yes", "rejected": "no"}]).encode())
    )
    assert read_pairs(listed)[0]["chosen"] == [{"role": "assistant", "content": "yes"}]

    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b'{"prompt": "' + b"a" * 5_000_000 + b'"}\n'))
    with pytest.raises(PairFormatError, match=r"bomb.jsonl.gz: line 1 is longer than 1048576 bytes"):
        read_pairs(bomb)
    with pytest.raises(PairFormatError, match=r"PAIRWISE_IMPORT_MAX_INFLATED_BYTES"):
        read_pairs(plain, limits=ReadLimits(max_inflated_bytes=100))
