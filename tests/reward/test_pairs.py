from __future__ import annotations

import json

import pytest

from rewardmodel.training.pairs import PairFormatError, as_conversation, hh_turns, parse_hh_pair, read_pairs

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
    assert (pair.chosen, pair.rejected) == ("6.", "Seven, I think.")


def test_it_keeps_blank_lines_and_colons_inside_a_turn():
    turns = hh_turns("Human: Write a list:\nA: one\n\nB: two\n\nAssistant: Human: is a word too")
    assert turns == [
        {"role": "user", "content": "Write a list:\nA: one\n\nB: two"},
        {"role": "assistant", "content": "Human: is a word too"},
    ]


def test_it_accepts_an_empty_final_answer():
    pair = parse_hh_pair("\n\nHuman: hi\n\nAssistant: hello", "\n\nHuman: hi\n\nAssistant:")
    assert pair.rejected == ""


@pytest.mark.parametrize(
    ("chosen", "rejected", "message"),
    [
        ("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: x\n\nAssistant: c", "differ before"),
        ("\n\nHuman: a\n\nAssistant: b\n\nHuman: more?", "\n\nHuman: a\n\nAssistant: c", "does not end"),
        ("just text", "\n\nHuman: a\n\nAssistant: c", "no 'Human:'"),
        ("preamble\n\nHuman: a\n\nAssistant: b", "\n\nHuman: a\n\nAssistant: c", "before the first"),
        ("\n\nAssistant: b", "\n\nAssistant: c", "no 'Human:' turn before"),
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
