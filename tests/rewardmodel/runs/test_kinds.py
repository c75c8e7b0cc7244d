"""One description per kind of run (rewardmodel.runs.kinds): every kind is complete, its options
go the same way through every front end (the trainer's own command line, the management command,
the manager's form, the reproduce command), and every check is made once, the same way, for every
kind: above all a taken name is refused before anything is made or queued."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pairwise.errors import PairwiseError
from rewardmodel.models import DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.runs.checks import options_clean
from rewardmodel.runs.cli import add_run_arguments, split_options
from rewardmodel.runs.forms import run_form
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.services import run_start
from rewardmodel.training.options import add_arguments, flags, given, options_of
from tests.factories import make_project

ALL = list(KINDS)


def test_every_choice_of_run_has_its_kind_and_every_kind_is_complete():
    assert list(KINDS) == list(TrainingRun.Kind.values)
    for name, kind in KINDS.items():
        assert kind.name == name and kind.title and kind.about and kind.label
        assert kind.starts_from and kind.produces in ModelArtifact.Kind.values
        assert kind.charts and kind.curve and kind.describe and kind.summary_lines, name
        assert kind.command in ("train_policy", "train_reward_model")
        assert kind.trainer_options, name
        for opt in kind.options:
            assert opt.help and not opt.help.endswith("."), (name, opt.name)  # forms add the full stop
        # Every field of the trainer's config is an option or something the run sets itself.
        fields = {f.name for f in dataclasses.fields(kind.config)}
        assert {o.name for o in kind.trainer_options} <= fields


@pytest.mark.parametrize("name", ALL)
def test_an_options_defaults_pass_its_own_checks(name):
    kind = KINDS[name]
    config = options_clean(kind, {})
    for opt in kind.trainer_options:
        assert config[opt.name] == opt.default, opt.name


@pytest.mark.parametrize("name", ALL)
def test_its_options_make_the_same_round_trip_through_every_command_line(name):
    """Values written as flags (reproduce) and read back by the trainer's own argparse and by the
    management command come back as they were: one description, no copies to drift."""
    kind = KINDS[name]
    values = {opt.name: _another_value(opt) for opt in kind.options if opt.cli and opt.name != "output_name"}
    words = flags(values, kind.options)

    trainer = argparse.ArgumentParser()
    add_arguments(trainer, options_of(kind.config))
    typed = given(
        trainer.parse_args([w for w in _only(words, options_of(kind.config))]), options_of(kind.config)
    )
    assert typed == {k: v for k, v in values.items() if k in {o.name for o in kind.trainer_options}}

    kinds = [k for k in KINDS.values() if k.command == kind.command]
    command = argparse.ArgumentParser()
    add_run_arguments(command, kinds)
    options, cold, stray = split_options(vars(command.parse_args(words)), kind, kinds)
    assert options == values and cold == {} and stray == []


def _another_value(opt):
    """A value in the option's bounds that is not its default (the command line leaves defaults out)."""
    if opt.choices:
        other = next(c for c in reversed(opt.choices) if c not in (opt.default or []) and c != opt.default)
        return [other] if opt.type is list else other
    if opt.type is bool:
        return True if opt.default is None else not opt.default
    if opt.type is int:
        return (opt.default if isinstance(opt.default, int) else int(opt.low or 0)) + 3
    if opt.type is float:
        low = opt.shown(opt.low if opt.low is not None else (opt.above or 0))
        high = opt.high if opt.high is not None else opt.below
        high = opt.shown(high) if high is not None else low + 2.5
        return opt.stored(round(low + (high - low) * 0.37, 4))
    if opt.type is list:
        return [1.5, 2.0] if opt.item is float else ["a", "b"]
    return "cosine" if "scheduler" in opt.name else "x"


def _only(words: list[str], options) -> list[str]:
    """The flags (and their values) of `words` that `options` have."""
    known = {o.cli_flag for o in options} | {"--no-" + o.cli_flag[2:] for o in options}
    out, keep = [], False
    for word in words:
        if word.startswith("--"):
            keep = word in known
        if keep:
            out.append(word)
    return out


@pytest.mark.parametrize("name", ALL)
def test_its_form_offers_every_option_with_its_default(db, name):
    kind = KINDS[name]
    form = run_form(kind)()
    for opt in kind.options:
        if opt.cli and opt.name != "output_name":  # the result's name is the field "name", as --name
            assert opt.name in form.fields, opt.name
    assert "name" in form.fields
    assert {"project", kind.start_flag[2:], *(i.name for i in kind.inputs)} <= set(form.fields)
    assert ("cold_start" in form.fields) == bool(kind.cold_start)
    shown = {f.name for f in form.main_fields()}
    assert {o.name for o in kind.options if o.form and o.name != "output_name"} | {"name"} <= shown


# --- the checks, once for every kind -----------------------------------------------------------------


@pytest.fixture
def taken(db, tiny_policy_dir) -> ModelArtifact:
    return ModelArtifact.objects.create(kind=ModelArtifact.Kind.BASE, name="taken", path=str(tiny_policy_dir))


@pytest.mark.parametrize("name", ALL)
def test_every_kind_refuses_a_taken_name_before_anything_is_made(taken, name):
    """The check every kind makes first (GRPO once lacked it: it trained to the end, failed to
    register and lost its checkpoint)."""
    project = make_project("Anything")
    kind = KINDS[name]
    start = ModelArtifact.objects.create(kind=kind.starts_from[0], name="start", path=taken.path)
    inputs = {spec.name: start for spec in kind.inputs}
    with pytest.raises(PairwiseError, match=r"^A model named 'taken' already exists; pick another name\.$"):
        run_start(kind=name, project=project, start=start, inputs=inputs, options={"output_name": "taken"})
    assert not TrainingRun.objects.exists() and not DatasetSnapshot.objects.exists()


@pytest.mark.parametrize("name", ALL)
def test_every_training_command_refuses_a_taken_name_with_the_same_words(taken, name):
    project = make_project("Anything")
    kind = KINDS[name]
    args = ["--project", project.name, "--name", "taken"]
    args += [kind.start_flag, taken.name] + [w for spec in kind.inputs for w in (spec.flag, taken.name)]
    if kind.command == "train_policy":
        args += ["--algo", name]
    with pytest.raises(CommandError, match=r"^A model named 'taken' already exists; pick another name\.$"):
        call_command(kind.command, *args)
    assert not TrainingRun.objects.exists() and not DatasetSnapshot.objects.exists()


@pytest.mark.parametrize("name", ALL)
def test_every_kind_refuses_a_start_of_the_wrong_kind_and_a_missing_folder(db, tmp_path, name):
    project = make_project("Anything")
    kind = KINDS[name]
    wrong = next(k for k in ModelArtifact.Kind.values if k not in kind.starts_from)
    model = ModelArtifact.objects.create(kind=wrong, name="wrong", path=str(tmp_path))
    with pytest.raises(PairwiseError, match=f"^Model 'wrong' is a {wrong}.*; {kind.label} starts from"):
        run_start(kind=name, project=project, start=model, inputs={i.name: model for i in kind.inputs})
    gone = ModelArtifact.objects.create(kind=kind.starts_from[0], name="gone", path=str(tmp_path / "gone"))
    with pytest.raises(PairwiseError, match=f"^Model 'gone' has no files at {tmp_path / 'gone'}"):
        run_start(kind=name, project=project, start=gone, inputs={i.name: gone for i in kind.inputs})
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("name", ALL)
def test_every_kind_names_an_unknown_option_and_one_out_of_range(db, name):
    kind = KINDS[name]
    with pytest.raises(PairwiseError, match=f"^Unknown {kind.label} option\\(s\\): warp_speed\\. Known: "):
        options_clean(kind, {"warp_speed": 9})
    bounded = next(o for o in kind.trainer_options if o.type is int and o.low is not None and o.low >= 1)
    with pytest.raises(PairwiseError, match=f"{bounded.name} must be at least {bounded.low:g}; got -5"):
        options_clean(kind, {bounded.name: -5})
    with pytest.raises(PairwiseError, match=f"{bounded.name} must be a whole number; got 'many'"):
        options_clean(kind, {bounded.name: "many"})


@pytest.mark.parametrize("command", ["train_policy", "train_reward_model"])
def test_every_training_command_explains_every_flag(command):
    from django.core.management import load_command_class

    text = load_command_class("rewardmodel", command).create_parser("manage.py", command).format_help()
    kinds = [k for k in KINDS.values() if k.command == command]
    for kind in kinds:
        for opt in kind.options:
            if opt.cli:
                assert opt.cli_flag in text, (kind.name, opt.cli_flag)


@pytest.mark.parametrize("name", ALL)
def test_every_trainer_explains_its_own_flags_from_a_shell(name):
    """`python -m rewardmodel.training.<kind> --help` (no Django): every option with its help."""
    import importlib

    module = importlib.import_module(f"rewardmodel.training.{name}")
    with pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    assert stop.value.code == 0
