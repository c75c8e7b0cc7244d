"""Rule-based rewards for GRPO, DeepSeek-R1 style: is the final answer right, is the output shaped
`<think>…</think><answer>…</answer>`, is it too long. No neural reward model, so nothing to hack
but the rules themselves.

Every function has the signature TRL's `GRPOTrainer` calls reward functions with:
`fn(completions, **kwargs) -> list[float]`, one float per completion. A completion is a string, or
(conversational datasets) a list of messages whose last `content` is the text. Extra dataset
columns arrive as keyword lists, one value per completion: `accuracy` reads `answer`.

    >>> accuracy(["<think>12*14</think><answer>168</answer>", "168? no: 170"], answer=["168", "168"])
    [1.0, 0.0]
    >>> format(["<think>a</think>\\n<answer>b</answer>", "<answer>b</answer>"])
    [1.0, 0.0]

No Django and no heavy imports here: the web process may import this module.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

RewardFn = Callable[..., list[float]]

# ---------------------------------------------------------------------------------------------------
# Reading completions
# ---------------------------------------------------------------------------------------------------


def completion_text(completion: Any) -> str:
    """The generated text: a string as is; for a list of messages, the last message's content.

    >>> completion_text([{"role": "assistant", "content": "hi"}])
    'hi'
    >>> completion_text(None)
    ''
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence) and completion:
        return completion_text(completion[-1])
    return ""


_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_HASHES = re.compile(r"####\s*([^\n]*)")


def _boxed_contents(text: str) -> list[str]:
    r"""Contents of every \boxed{...} (or \fbox{...}), with nested braces balanced."""
    found = []
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    found.append(text[start:i])
                    break
    return found


def extract_answer(text: str) -> str | None:
    r"""The final answer of a completion, or None when there is nothing to read.

    Looks, in this order, for the last complete `<answer>…</answer>` block; an `<answer>` left open
    at the end (generation cut off after the answer); the last `\boxed{…}`; the last `#### N` line;
    and finally the last number anywhere in the text.

    >>> extract_answer("<think>7*6</think><answer> 42 </answer>")
    '42'
    >>> extract_answer(r"so the total is \boxed{\frac{1}{2}}")
    '\\frac{1}{2}'
    >>> extract_answer("Natalia sold 48+24 = 72 clips.\n#### 72")
    '72'
    >>> extract_answer("I think it is 3, no wait, 5.")
    '5'
    >>> extract_answer("no idea") is None
    True
    """
    text = text or ""
    blocks = _ANSWER_BLOCK.findall(text)
    if blocks:
        return blocks[-1].strip()
    opened = list(_ANSWER_OPEN.finditer(text))
    if opened:
        tail = text[opened[-1].end() :].strip()
        if tail:
            return tail
    boxed = _boxed_contents(text)
    if boxed:
        return boxed[-1].strip()
    hashes = _HASHES.findall(text)
    if hashes and hashes[-1].strip():
        return hashes[-1].strip()
    numbers = _NUMBER.findall(text)
    if numbers:
        return numbers[-1]
    return None


# ---------------------------------------------------------------------------------------------------
# Comparing answers
# ---------------------------------------------------------------------------------------------------

# A number as people write it: optional sign (ASCII or Unicode minus) not glued to a preceding word
# or digit (so "12-5" is not "-5"), an optional currency sign, digits with thousands commas or plain,
# and decimals. Fractions count only as a whole answer ("3/4"), never picked out of running text:
# otherwise echoing the question "12/4" would earn the reward for "3".
_NUMBER = re.compile(r"(?<![\w.])[-−]?[$€£]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)|\.\d+)")
_LATEX_FRAC = re.compile(r"\\d?frac\s*\{\s*([-−]?\d+(?:\.\d+)?)\s*\}\s*\{\s*([-−]?\d+(?:\.\d+)?)\s*\}")


def parse_number(text: str) -> Fraction | None:
    r"""A number from one token of text: commas, signs, currency, percent, fractions; else None.

    >>> parse_number("$1,200")
    Fraction(1200, 1)
    >>> parse_number("−7")
    Fraction(-7, 1)
    >>> parse_number("3/4")
    Fraction(3, 4)
    >>> parse_number(r"\frac{3}{4}")
    Fraction(3, 4)
    >>> parse_number("12.50") == parse_number("12.5")
    True
    >>> parse_number("1,2") is None
    True
    """
    cleaned = (text or "").strip()
    latex = _LATEX_FRAC.fullmatch(cleaned)
    if latex:
        num, den = (Fraction(part.replace("−", "-")) for part in latex.groups())
        return num / den if den else None
    cleaned = cleaned.replace("−", "-").replace(" ", "")
    cleaned = re.sub(r"^(-?)[$€£]", r"\1", cleaned)
    cleaned = re.sub(r"^[$€£](-)", r"\1", cleaned).rstrip("%")
    if re.fullmatch(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+", cleaned):
        return Fraction(cleaned.replace(",", ""))
    fraction = re.fullmatch(r"(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)", cleaned)
    if fraction:
        num, den = Fraction(fraction.group(1)), Fraction(fraction.group(2))
        return num / den if den else None
    return None


def answer_number(answer: str) -> Fraction | None:
    """The number an extracted answer states: the whole answer if it is one ("$1,200", "-3"), else
    the number after the last "=" ("12*14 = 168"), else the last number in it ("168 apples").

    >>> answer_number("168 apples")
    Fraction(168, 1)
    >>> answer_number("12 * 14 = 168")
    Fraction(168, 1)
    >>> answer_number("x") is None
    True
    """
    text = (answer or "").strip().rstrip(".").strip()
    whole = parse_number(text)
    if whole is not None:
        return whole
    latex = _LATEX_FRAC.search(text)
    if latex and not _NUMBER.search(_LATEX_FRAC.sub(" ", text)):
        return parse_number(latex.group(0))
    if "=" in text:
        text = text.rsplit("=", 1)[1]
    numbers = _NUMBER.findall(text)
    return parse_number(numbers[-1]) if numbers else None


def normalize_text(text: str) -> str:
    r"""Lower case, LaTeX wrappers and surrounding punctuation dropped, spaces collapsed.

    >>> normalize_text(r"  \text{Paris}. ")
    'paris'
    """
    text = re.sub(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}", r"\1", text or "")
    text = text.replace("$", "").replace("\\", "")
    text = re.sub(r"\s+", " ", text).strip().lower()
    return text.strip(" .,;:!?\"'`")


def answers_match(predicted: str | None, reference: str, *, tolerance: float = 1e-6) -> bool:
    """True when `predicted` states the reference: numerically (relative `tolerance`, so 0.5 == 1/2
    and "1,200" == "1200.0") when the reference is a number, else as normalized text.

    >>> answers_match("1,200.0", "1200")
    True
    >>> answers_match("-3", "3")
    False
    >>> answers_match("Paris", "paris.")
    True
    """
    if predicted is None:
        return False
    reference = str(reference)
    if "####" in reference:  # a GSM8K answer column given whole: its number is after ####
        reference = reference.rsplit("####", 1)[1]
    ref_number = answer_number(reference)
    if ref_number is not None:
        got = answer_number(predicted)
        if got is None:
            return False
        if got == ref_number:
            return True
        scale = max(abs(float(ref_number)), 1.0)
        return abs(float(got) - float(ref_number)) <= tolerance * scale
    return normalize_text(predicted) == normalize_text(reference) != ""


# ---------------------------------------------------------------------------------------------------
# The rewards
# ---------------------------------------------------------------------------------------------------


def accuracy(
    completions: Sequence[Any],
    answer: Sequence[str] | None = None,
    *,
    tolerance: float = 1e-6,
    **kwargs: Any,
) -> list[float]:
    r"""1.0 when the completion's final answer (see `extract_answer`) equals the reference, else 0.0.

    `answer` is the dataset column with the reference answers (one per completion); a dataset whose
    column is called `reference_answer` works too. Numbers compare exactly or within a relative
    `tolerance`; other answers compare as normalized text.

    >>> accuracy(["<answer>$1,200</answer>", "<answer>1200 dollars</answer>", "1100"], answer=["1200"] * 3)
    [1.0, 1.0, 0.0]
    >>> accuracy([[{"role": "assistant", "content": r"\boxed{-4}"}]], answer=["-4"])
    [1.0]
    >>> accuracy(["<answer>5</answer> wait <answer>6</answer>"], answer=["6"])  # the last answer counts
    [1.0]
    """
    if answer is None:
        answer = kwargs.get("reference_answer")
    if answer is None:
        raise ValueError("accuracy needs the reference answers: a dataset column named 'answer'.")
    if len(answer) != len(completions):
        raise ValueError(f"{len(completions)} completions but {len(answer)} reference answers.")
    return [
        1.0 if answers_match(extract_answer(completion_text(c)), str(ref), tolerance=tolerance) else 0.0
        for c, ref in zip(completions, answer, strict=True)
    ]


_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_STRICT = re.compile(r"\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*", re.DOTALL)


def is_formatted(text: str) -> bool:
    """The R1 template exactly: one `<think>` block, then one non-empty `<answer>` block, nothing
    before or after but whitespace, and no stray or nested tags.

    >>> is_formatted("<think>2+2 is 4</think> <answer>4</answer>")
    True
    >>> is_formatted("<think>x</think><answer>4</answer> Hope that helps!")
    False
    """
    text = text or ""
    match = _STRICT.fullmatch(text)
    if not match or not match.group(2).strip():
        return False
    return all(text.count(tag) == 1 for tag in _TAGS)


# Shadows the builtin on purpose: TRL names each reward after its function ("rewards/format/mean").
def format(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 for a completion in the R1 template (see `is_formatted`), else 0.0.

    >>> format(["<think>\\n12*14 = 168\\n</think>\\n<answer>168</answer>\\n"])
    [1.0]
    >>> format(["<think>a</think><answer>b", "<think><think>a</think></think><answer>b</answer>", ""])
    [0.0, 0.0, 0.0]
    """
    return [1.0 if is_formatted(completion_text(c)) else 0.0 for c in completions]


def format_partial(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """Partial credit on the way to the R1 template, so a small model that never produces the
    whole template by chance still sees rewards that differ within a group: 0.2 for each of the
    four tags that appears exactly once, and the last 0.2 only for the exact template (1.0 total).

    >>> format_partial(["<think>a</think><answer>b</answer>", "<think>a</think> <answer>b", "b", ""])
    [1.0, 0.6, 0.0, 0.0]
    >>> format_partial(["<think>a</think><answer>b</answer> and more"])
    [0.8]
    """
    scores = []
    for c in completions:
        text = completion_text(c)
        once = builtins.sum(1 for tag in _TAGS if text.count(tag) == 1)
        scores.append(round(0.2 * once + (0.2 if is_formatted(text) else 0.0), 6))
    return scores


def length(completions: Sequence[Any], *, target_chars: int = 400, **kwargs: Any) -> list[float]:
    """A penalty for rambling: 0.0 up to `target_chars` characters, then falling linearly to -1.0
    at twice that length (and staying there).

    >>> length(["short", "x" * 600, "x" * 2000], target_chars=400)
    [0.0, -0.5, -1.0]
    """
    if target_chars <= 0:
        raise ValueError("target_chars must be positive.")
    out = []
    for c in completions:
        over = len(completion_text(c)) - target_chars
        out.append(0.0 if over <= 0 else -min(1.0, over / target_chars))
    return out


REWARDS: dict[str, RewardFn] = {
    "accuracy": accuracy,
    "format": format,
    "format_partial": format_partial,
    "length": length,
}


def reward_functions(names: Sequence[str] | str) -> list[RewardFn]:
    """The reward functions for names like "accuracy,format_partial"; a clear error for unknown ones.

    >>> [f.__name__ for f in reward_functions("accuracy, format")]
    ['accuracy', 'format']
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    names = [n for n in names if n]
    if not names:
        raise ValueError(f"Give at least one reward: {', '.join(REWARDS)}.")
    unknown = [n for n in names if n not in REWARDS]
    if unknown:
        raise ValueError(f"Unknown reward(s) {', '.join(unknown)}; choose from {', '.join(REWARDS)}.")
    if len(set(names)) != len(names):
        raise ValueError("Each reward may be listed once.")
    return [REWARDS[n] for n in names]
