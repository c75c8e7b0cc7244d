"""The ranking screen's keys, written once.

The demo's guidelines say them in the sentence made by `guidelines_sentence`, and the legend under
the pair is rendered from `legend()` (annotate.views.label passes it). The label template also
shows them on the buttons (aria-keyshortcuts and <kbd>) and in the `?` dialog, written out with
their longer words; tests/annotate/test_keys.py reads the rendered page back against this table,
so a key changed on one side only fails there. screen.js builds its key map from the buttons, so
it keeps no copy of its own.

Choosing is one key (1 2 3 4, or a b t x); how much better is q / w / e pressed before the choice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScreenKey:
    value: str  # what the key sets: a Judgment.choice, a strength, or the action's name
    keys: tuple[str, ...]
    legend: str  # under the pair, after the keys
    says: str  # in the guidelines' sentence, after the keys
    more: tuple[str, ...] = ()  # more keys for the same, listed in the help dialog only


CHOICES = (
    ScreenKey("A", ("1", "a"), "A", "when A is better"),
    ScreenKey("B", ("2", "b"), "B", "when B is better"),
    ScreenKey("tie", ("3", "t"), "tie", "for a tie"),
    ScreenKey("both_bad", ("4", "x"), "both bad", "when both are bad"),
)
STRENGTHS = (
    ScreenKey("1", ("q",), "slightly", "slightly"),
    ScreenKey("2", ("w",), "clearly", "clearly"),
    ScreenKey("3", ("e",), "much", "much"),
)
DEFAULT_STRENGTH = "2"  # each pair starts at "clearly"
ACTIONS = (
    ScreenKey("skip", ("s",), "skip", "skips the pair"),
    ScreenKey("undo", ("u",), "undo", "takes the last judgment back"),
    ScreenKey("rationale", ("r",), "why", "goes to the box for why"),
    ScreenKey("scroll", ("↑", "↓"), "scroll", "scroll both answers", more=("PgUp", "PgDn")),
    ScreenKey("guidelines", ("g",), "guidelines", "shows or hides these guidelines"),
    ScreenKey("help", ("?",), "help", "lists every key"),
)
STRENGTH_LEGEND = "strength, then choose"


def legend() -> list[tuple[tuple[str, ...], str]]:
    """The legend under the pair, in order: (keys, what they do)."""
    strength_keys = tuple(key for strength in STRENGTHS for key in strength.keys)
    return [
        *((c.keys, c.legend) for c in CHOICES),
        (strength_keys, STRENGTH_LEGEND),
        *((a.keys, a.legend) for a in ACTIONS),
    ]


def help_rows() -> list[tuple[str, ...]]:
    """The keys of each row of the `?` dialog, in order."""
    strength_keys = tuple(key for strength in STRENGTHS for key in strength.keys)
    return [*(c.keys for c in CHOICES), strength_keys, *(a.keys + a.more for a in ACTIONS)]


def _code(keys: tuple[str, ...], joiner: str) -> str:
    return joiner.join(f"`{key}`" for key in keys)


def guidelines_sentence() -> str:
    """The keys in Markdown, for a project's guidelines."""
    choices = ", ".join(f"{_code(c.keys, ' or ')} {c.says}" for c in CHOICES)
    strength_keys = " / ".join(_code(s.keys, " ") for s in STRENGTHS)
    strengths = " / ".join(s.says for s in STRENGTHS)
    default = next(s.says for s in STRENGTHS if s.value == DEFAULT_STRENGTH)
    actions = ", ".join(f"{_code(a.keys, ' ')} {a.says}" for a in ACTIONS)
    return (
        f"Keyboard: {choices}. Press {strength_keys} before choosing A or B to say how much better "
        f"it is: {strengths} ({default} if you press none). Also: {actions}."
    )
