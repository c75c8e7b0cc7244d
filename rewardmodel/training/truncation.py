"""Fit a preference pair into max_length tokens instead of leaving it out.

TRL's RewardTrainer drops a pair whose chosen or rejected sequence is longer than max_length: at
256 tokens that is about a third of Anthropic HH harmless, judgments people were paid for, lost
without a word. Here the pair is cut instead, the same way on both sides so they stay comparable:

- the part both sequences share (the prompt, and on HH-style pairs the turns before the two sides
  part) is the context; what follows it on each side is that side's answer;
- if the longer answer fits with room to spare, both answers are kept whole and the context keeps
  its end, as much of it as fits (the last turns matter most);
- otherwise the context keeps its last quarter of the window at most, and each answer is cut at
  its end to fill the rest.

    chosen, rejected, cut = pair_fit(chosen_ids, rejected_ids, max_length=256)

Plain lists of token ids: no tokenizer, no torch, no Django.
"""

from __future__ import annotations

from collections.abc import Sequence

# The share of the window the context keeps when even the answers do not fit whole.
CONTEXT_SHARE_WHEN_CUT = 0.25


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens two sequences share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def pair_fit(
    chosen: Sequence[int], rejected: Sequence[int], *, max_length: int
) -> tuple[list[int], list[int], bool]:
    """Both sequences within max_length tokens, cut as the module says; True when anything was cut."""
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2; got {max_length}")
    if len(chosen) <= max_length and len(rejected) <= max_length:
        return list(chosen), list(rejected), False
    shared = shared_prefix(chosen, rejected)
    if shared == len(chosen) or shared == len(rejected):
        shared = max(0, min(len(chosen), len(rejected)) - 1)  # one side extends the other: keep a token each
    context, answer_a, answer_b = chosen[:shared], chosen[shared:], rejected[shared:]
    longest = max(len(answer_a), len(answer_b))
    if longest < max_length:
        keep = max_length - longest
    else:
        keep = min(len(context), int(max_length * CONTEXT_SHARE_WHEN_CUT))
    tail = list(context[max(0, len(context) - keep) :]) if keep else []
    room = max_length - len(tail)
    return tail + list(answer_a[:room]), tail + list(answer_b[:room]), True
