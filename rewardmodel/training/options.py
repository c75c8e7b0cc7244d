"""A trainer's options, declared once on its config dataclass and read from there by every front end.

    @dataclass
    class PpoConfig:
        model_dir: str                                        # set by the caller: not an option
        episodes: int = option(256, "sampled responses in all", low=1)
        kl_coef: float = option(0.05, "penalty on the KL to the starting policy", low=0)
        max_seconds: float | None = option(None, "time budget", above=0, flag="max-minutes", scale=60)

`options_of(PpoConfig)` lists the fields declared with `option()`: name, type, default, help text and
bounds. From that one list come the trainer's own command line (`add_arguments`, `given`), the checks
of any set of values (`problems`), and on the Django side the manager's form, the management
commands' flags and the commands that reproduce a run (rewardmodel.runs). TRL's scripts do the same
with HfArgumentParser and field metadata. No Django and no heavy imports here.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_KEY = "pairwise.option"
SCALARS = (int, float, bool, str)


@dataclass(frozen=True)
class Option:
    """One option: what it is, its default, and the values it takes."""

    name: str
    type: type  # int, float, bool, str or list
    default: Any
    help: str
    item: type | None = None  # a list's element type
    nullable: bool = False  # None is a value (usually "the default for this device")
    low: float | None = None  # smallest value allowed
    above: float | None = None  # values must be greater than this
    below: float | None = None  # values must be smaller than this
    high: float | None = None  # largest value allowed
    choices: tuple[str, ...] = ()
    flag: str = ""  # the command line's name, without dashes (default: the name with dashes)
    scale: float = 1.0  # what a person types × scale = the stored value (minutes → seconds)
    unit: str = ""  # the unit a person types in, when it is not the stored one
    form: bool = False  # among the few a manager's form shows first (the rest fold away)
    cli: bool = True  # has a command-line flag (False: set only from code, e.g. a dict)

    @property
    def cli_flag(self) -> str:
        return "--" + (self.flag or self.name.replace("_", "-"))

    @property
    def dest(self) -> str:
        return self.cli_flag[2:].replace("-", "_")

    def shown(self, value: Any) -> Any:
        """A stored value as a person types it (seconds → minutes)."""
        if self.scale != 1 and isinstance(value, int | float) and not isinstance(value, bool):
            return value / self.scale
        return value

    def stored(self, value: Any) -> Any:
        """What a person typed as the value to store (minutes → seconds)."""
        if self.scale != 1 and isinstance(value, int | float) and not isinstance(value, bool):
            return value * self.scale
        return value

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` for this option, in words a person can act on; None if fine."""
        name = self.name
        if value is None:
            return None if self.nullable else f"{name} must be given"
        if self.type is list:
            if not isinstance(value, list | tuple):
                return f"{name} must be a list; got {value!r}"
            for item in value:
                if callable(item):  # code may pass a function where a name is expected (GRPO's rewards)
                    continue
                wrong = _type_problem(name, self.item or str, item, each=True)
                if wrong:
                    return wrong
                if self.choices and item not in self.choices:
                    return f"{name} must be from {', '.join(self.choices)}; got {item!r}"
            return None
        wrong = _type_problem(name, self.type, value)
        if wrong:
            return wrong
        if self.choices and value not in self.choices:
            return f"{name} must be one of {', '.join(self.choices)}; got {value!r}"
        if self.type in (int, float):
            return _bounds_problem(self, value)
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "help": self.help,
            "flag": self.cli_flag,
        }


def _type_problem(name: str, kind: type, value: Any, *, each: bool = False) -> str | None:
    what = f"each of {name}" if each else name
    if kind is bool:
        return None if isinstance(value, bool) else f"{what} must be true or false; got {value!r}"
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{what} must be a whole number; got {value!r}"
        return None
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{what} must be a number; got {value!r}"
        return None if math.isfinite(value) else f"{what} must be a finite number; got {value!r}"
    if kind is str:
        return None if isinstance(value, str) else f"{what} must be text; got {value!r}"
    return None


def _num(value: float) -> str:
    return str(value)


def _bounds_problem(opt: Option, value: float) -> str | None:
    name, got = opt.name, f"got {_num(value)}"
    if opt.low is not None and opt.below is not None and not opt.low <= value < opt.below:
        return f"{name} must be at least {_num(opt.low)} and below {_num(opt.below)}; {got}"
    if opt.low is not None and opt.high is not None and not opt.low <= value <= opt.high:
        return f"{name} must be between {_num(opt.low)} and {_num(opt.high)}; {got}"
    if opt.above is not None and not value > opt.above:
        return f"{name} must be {'positive' if opt.above == 0 else f'above {_num(opt.above)}'}; {got}"
    if opt.low is not None and not value >= opt.low:
        return (
            f"{name} {'cannot be negative' if opt.low == 0 else f'must be at least {_num(opt.low)}'}; {got}"
        )
    if opt.below is not None and not value < opt.below:
        return f"{name} must be below {_num(opt.below)}; {got}"
    if opt.high is not None and not value <= opt.high:
        return f"{name} must be at most {_num(opt.high)}; {got}"
    return None


def option(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    above: float | None = None,
    below: float | None = None,
    high: float | None = None,
    choices: Sequence[str] = (),
    flag: str = "",
    scale: float = 1.0,
    unit: str = "",
    form: bool = False,
    cli: bool = True,
) -> Any:
    """A dataclass field that is an option (see the module docstring). A list or dict default is
    copied for each instance."""
    meta = {
        _KEY: {
            "help": help,
            "low": low,
            "above": above,
            "below": below,
            "high": high,
            "choices": tuple(choices),
            "flag": flag,
            "scale": scale,
            "unit": unit,
            "form": form,
            "cli": cli,
        }
    }
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# Options every trainer has, declared once.


def time_budget(what: str = "step") -> Any:
    """max_seconds: past it, training ends after the current `what` (a normal finish); in minutes
    on a command line and a form."""
    return option(
        None,
        f"time budget; training ends after the {what} that passes it",
        above=0,
        flag="max-minutes",
        scale=60,
        unit="minutes",
    )


def learning_rate(default: float) -> Any:
    return option(default, "learning rate", above=0, form=True)


def lr_schedule() -> Any:
    return option("linear", "learning-rate schedule (a transformers scheduler name)")


def warmup() -> Any:
    return option(0, "steps of linear warmup (transformers 5 has no warmup ratio)", low=0)


def grad_clip() -> Any:
    return option(1.0, "gradient clipping norm", above=0)


def log_every(default: int) -> Any:
    return option(default, "log the training metrics every N steps", low=1)


def bf16_switch() -> Any:
    return option(None, "bfloat16 autocast (empty: on a GPU that supports it)")


def checkpointing_switch() -> Any:
    return option(False, "recompute activations: less memory, ~20-30 % slower")


def _hint(hint: Any) -> tuple[type, type | None, bool]:
    """(type, list item type, nullable) of a field's annotation."""
    nullable = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        hint = args[0]
    origin = typing.get_origin(hint)
    if origin in (list, tuple, Sequence):
        args = typing.get_args(hint)
        item = args[0] if args else str
        if typing.get_origin(item) in (typing.Union, types.UnionType):  # list[str | Callable]: names
            item = next(a for a in typing.get_args(item) if a in SCALARS)
        return list, item, nullable
    if origin is not None:  # dict[...] and the like
        return origin, None, nullable
    return hint, None, nullable


def options_of(config: type) -> list[Option]:
    """The options of a config dataclass (its fields declared with option()), in field order."""
    hints = typing.get_type_hints(config)
    out = []
    for f in dataclasses.fields(config):
        meta = f.metadata.get(_KEY)
        if meta is None:
            continue
        kind, item, nullable = _hint(hints[f.name])
        if f.default is not dataclasses.MISSING:
            default = f.default
        else:
            default = f.default_factory()  # type: ignore[misc]
        out.append(
            Option(
                name=f.name,
                type=kind,
                item=item,
                default=default,
                nullable=nullable or default is None,
                **{**meta, "cli": meta["cli"] and (kind in SCALARS or kind is list)},
            )
        )
    return out


def problems(values: Mapping[str, Any], options: Iterable[Option]) -> list[str]:
    """What is wrong with `values` (those of `options` that are present), one message each."""
    return [p for opt in options if opt.name in values for p in [opt.problem(values[opt.name])] if p]


def config_problems(config: Any) -> list[str]:
    """What is wrong with a config's option values (types and bounds; each trainer adds the rules
    that tie two options together)."""
    opts = options_of(type(config))
    return problems({o.name: getattr(config, o.name) for o in opts}, opts)


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------


def _list_of(item: type):
    def parse(text: str) -> list:
        return [item(part.strip()) for part in text.split(",") if part.strip()]

    parse.__name__ = f"comma-separated {item.__name__}"
    return parse


def cli_help(opt: Option) -> str:
    default = opt.shown(opt.default)
    shown = (
        ""
        if default in (None, [], "", False)
        else f" ({','.join(map(str, default)) if isinstance(default, list) else default})"
    )
    unit = f", in {opt.unit}" if opt.unit else ""
    return f"{opt.help}{unit}{shown}"


def add_argument(parser: argparse.ArgumentParser | Any, opt: Option, *, help: str | None = None) -> None:
    """One option as a flag. Every flag defaults to None: only what is typed counts, and the
    trainer's default applies to the rest."""
    text = (cli_help(opt) if help is None else help).replace("%", "%%")  # argparse formats help with %
    if opt.type is bool:
        parser.add_argument(
            opt.cli_flag, dest=opt.dest, action=argparse.BooleanOptionalAction, default=None, help=text
        )
    elif opt.type is list:
        parser.add_argument(
            opt.cli_flag, dest=opt.dest, type=_list_of(opt.item or str), default=None, help=text
        )
    else:
        kwargs: dict[str, Any] = {"type": opt.type}
        if opt.choices:
            kwargs["choices"] = opt.choices
        parser.add_argument(opt.cli_flag, dest=opt.dest, default=None, help=text, **kwargs)


def add_arguments(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    for opt in options:
        if opt.cli:
            add_argument(parser, opt)


def given(namespace: argparse.Namespace | Mapping[str, Any], options: Iterable[Option]) -> dict[str, Any]:
    """The options typed on a command line, by option name, as they are stored (scaled)."""
    values = vars(namespace) if isinstance(namespace, argparse.Namespace) else namespace
    return {
        opt.name: opt.stored(values[opt.dest])
        for opt in options
        if opt.cli and values.get(opt.dest) is not None
    }


def flags(values: Mapping[str, Any], options: Iterable[Option], *, always: Iterable[str] = ()) -> list[str]:
    """The command-line words that give these values (the reverse of `given`). An option left at
    its default is left out (the default applies the same way when the command runs again), unless
    it is named in `always` (the knobs a reader looks for) and is not a switch left off."""
    shown = set(always)
    out: list[str] = []
    for opt in options:
        if not opt.cli or opt.name not in values:
            continue
        value = values[opt.name]
        if value is None or (value == opt.default and (opt.name not in shown or opt.type is bool)):
            continue
        if opt.type is bool:
            out.append(opt.cli_flag if value else "--no-" + opt.cli_flag[2:])
        elif opt.type is list:
            out += [opt.cli_flag, ",".join(str(v) for v in value)]
        elif opt.scale != 1:
            out += [opt.cli_flag, f"{opt.shown(value):.15g}"]
        else:
            out += [opt.cli_flag, str(value)]
    return out


def with_placeholders(config: type, values: Mapping[str, Any]) -> Any:
    """A config holding `values`, its required fields (paths, data) filled with empty stand-ins:
    enough to read its defaults and check the rules between its options, nothing to train on."""
    hints = typing.get_type_hints(config)
    stand_ins: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kind, _, _ = _hint(hints[f.name])
            stand_ins[f.name] = {list: [], dict: {}}.get(kind, "")
    return config(**{**stand_ins, **values})
