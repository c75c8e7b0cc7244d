"""Verifiable arithmetic problems for rule-based GRPO: "What's 12 times 14?" → "168".

Levels set the operations and operand sizes. `easy` is the level on which the 135M default model
measurably learned in our baselines (1-20 with 1-9); `medium` is the one where it did not (most
groups of samples all wrong, so no advantage to learn from); `hard` is for bigger models.

The held-out split is fixed by the problem itself, not by the draw: a problem is held out when the
hash of its canonical form ("12*14") falls in the held-out share. Any seed, any count, any phrasing
puts "12 times 14" on the same side, so a trained policy is never evaluated on a fact it trained on.

    problems = generate_problems(level="easy", n_train=200, n_heldout=50, seed=0)

No Django, no heavy imports.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass

HELDOUT_SHARE = 0.15


@dataclass(frozen=True)
class Level:
    name: str
    operations: tuple[str, ...]
    # Operand ranges (inclusive) for + and -, for × (left, right), and for ÷ (divisor, quotient).
    add: tuple[tuple[int, int], tuple[int, int]]
    mul: tuple[tuple[int, int], tuple[int, int]]
    div: tuple[tuple[int, int], tuple[int, int]]
    description: str


LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level(
            "easy",
            ("+", "-", "*"),
            add=((1, 20), (1, 9)),
            mul=((1, 20), (1, 9)),
            div=((1, 9), (1, 9)),
            description="1-20 with 1-9; plus, minus, times",
        ),
        Level(
            "medium",
            ("+", "-", "*", "/"),
            add=((10, 99), (10, 99)),
            mul=((2, 9), (11, 30)),
            div=((2, 9), (2, 12)),
            description="two-digit plus and minus, one-digit times 11-30, exact division",
        ),
        Level(
            "hard",
            ("+", "-", "*", "/"),
            add=((100, 999), (100, 999)),
            mul=((11, 99), (11, 99)),
            div=((11, 30), (11, 40)),
            description="three-digit plus and minus, two-digit times two-digit, exact division",
        ),
    )
}

PHRASINGS: dict[str, tuple[str, ...]] = {
    "+": (
        "What's {a} plus {b}?",
        "What is {a} + {b}?",
        "Add {a} and {b}.",
        "What do you get when you add {b} to {a}?",
        "Compute {a} + {b}.",
    ),
    "-": (
        "What's {a} minus {b}?",
        "What is {a} - {b}?",
        "Subtract {b} from {a}.",
        "What do you get if you take {b} away from {a}?",
        "Compute {a} - {b}.",
    ),
    "*": (
        "What's {a} times {b}?",
        "What is {a} × {b}?",
        "Multiply {a} by {b}.",
        "What is the product of {a} and {b}?",
        "Compute {a} * {b}.",
    ),
    "/": (
        "What's {a} divided by {b}?",
        "What is {a} ÷ {b}?",
        "Divide {a} by {b}.",
        "How many times does {b} go into {a}?",
        "Compute {a} / {b}.",
    ),
}


@dataclass(frozen=True)
class Problem:
    question: str
    answer: str
    level: str
    op: str
    a: int
    b: int
    split: str  # "train" or "heldout"

    @property
    def key(self) -> str:
        return problem_key(self.a, self.op, self.b)

    def as_dict(self) -> dict:
        return asdict(self)


def problem_key(a: int, op: str, b: int) -> str:
    """The canonical form a problem is identified by, whatever its phrasing: "12*14"."""
    return f"{a}{op}{b}"


def split_of(key: str, heldout_share: float = HELDOUT_SHARE) -> str:
    """ "heldout" for a fixed `heldout_share` of problem keys (by sha256), else "train".

    >>> split_of("12*14") == split_of("12*14")
    True
    """
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return "heldout" if bucket < heldout_share else "train"


def solve(a: int, op: str, b: int) -> int:
    """
    >>> solve(12, "*", 14), solve(3, "-", 9), solve(84, "/", 7)
    (168, -6, 12)
    """
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0 or a % b:
            raise ValueError(f"{a}/{b} is not an exact division")
        return a // b
    raise ValueError(f"unknown operation {op!r}")


def _draw(level: Level, rng: random.Random) -> tuple[int, str, int]:
    op = rng.choice(level.operations)
    if op in "+-":
        (lo_a, hi_a), (lo_b, hi_b) = level.add
        return rng.randint(lo_a, hi_a), op, rng.randint(lo_b, hi_b)
    if op == "*":
        (lo_a, hi_a), (lo_b, hi_b) = level.mul
        a, b = rng.randint(lo_a, hi_a), rng.randint(lo_b, hi_b)
        return (a, op, b) if rng.random() < 0.5 else (b, op, a)
    (lo_d, hi_d), (lo_q, hi_q) = level.div
    divisor, quotient = rng.randint(lo_d, hi_d), rng.randint(lo_q, hi_q)
    return divisor * quotient, op, divisor


def generate_problems(
    *,
    level: str = "easy",
    n_train: int,
    n_heldout: int,
    seed: int = 0,
    heldout_share: float = HELDOUT_SHARE,
) -> list[Problem]:
    """`n_train` training and `n_heldout` held-out problems of a level, all distinct facts, seeded.

    The split of each problem comes from `split_of(key)`, so draws that land in a split that is
    already full are skipped. Raises ValueError when the level has too few distinct problems.

    >>> ps = generate_problems(level="easy", n_train=5, n_heldout=2, seed=1)
    >>> sorted(p.split for p in ps)
    ['heldout', 'heldout', 'train', 'train', 'train', 'train', 'train']
    >>> all(str(solve(p.a, p.op, p.b)) == p.answer for p in ps)
    True
    """
    if level not in LEVELS:
        raise ValueError(f"Unknown level {level!r}; choose from {', '.join(LEVELS)}.")
    if n_train < 0 or n_heldout < 0:
        raise ValueError("Problem counts cannot be negative.")
    spec, rng = LEVELS[level], random.Random(f"{level}:{seed}")
    wanted = {"train": n_train, "heldout": n_heldout}
    seen: set[str] = set()
    problems: list[Problem] = []
    misses, max_misses = 0, 20_000 + 50 * (n_train + n_heldout)
    while any(wanted.values()):
        a, op, b = _draw(spec, rng)
        key = problem_key(a, op, b)
        split = split_of(key, heldout_share)
        if key in seen or not wanted[split]:
            misses += 1
            if misses > max_misses:
                raise ValueError(
                    f"Level {level!r} has too few distinct problems for {n_train} train and "
                    f"{n_heldout} held-out ones (got {n_train - wanted['train']} and "
                    f"{n_heldout - wanted['heldout']}); ask for fewer or pick a harder level."
                )
            continue
        seen.add(key)
        wanted[split] -= 1
        question = rng.choice(PHRASINGS[op]).format(a=a, b=b)
        problems.append(Problem(question, str(solve(a, op, b)), level, op, a, b, split))
    return problems
