"""The manager's form for starting a run of any kind, made from the kind (rewardmodel.runs.kinds).

    form = run_form(kind)(request.POST or None)
    if form.is_valid(): runs_start(kind=kind, **form.start_arguments())

Fields, in order: the project, the starting model (of a kind the run starts from; named as the
command line names it, policy or base), the models the
kind takes besides (PPO: the reward model), then the kind's options marked `form=True` in their
dataclass (the knobs people turn most), a cold start where the kind takes one, the result's name,
and every other option folded under "More options". Every option field starts at the trainer's
default and may be left empty (the default then applies); its help text and bounds are the
option's own. No torch here: the config dataclasses import it inside their functions.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from annotate.models import Project
from rewardmodel.models import ModelArtifact
from rewardmodel.registry.artifacts import kinds_words
from rewardmodel.runs.kind import RunKind
from rewardmodel.training.options import Option

COLD_START = "cold_start"
NAME = "name"  # the field of the output_name option, named as the command line's --name


def _bounds(opt: Option) -> dict[str, Any]:
    low = opt.low if opt.low is not None else opt.above
    high = opt.high if opt.high is not None else opt.below
    out: dict[str, Any] = {}
    if low is not None:
        out["min_value"] = opt.shown(low)
    if high is not None:
        out["max_value"] = opt.shown(high)
    return out


def option_field(opt: Option) -> forms.Field:
    """A form field for one option: its type, bounds, choices, default and help."""
    label = opt.name.replace("_", " ").capitalize() + (f" ({opt.unit})" if opt.unit else "")
    common = {"label": label, "required": False, "help_text": opt.help[:1].upper() + opt.help[1:] + "."}
    default = opt.shown(opt.default)
    if opt.type is bool:
        if opt.nullable:
            choices = [("", "default"), ("true", "yes"), ("false", "no")]
            return forms.TypedChoiceField(
                choices=choices, coerce=lambda v: v == "true", empty_value=None, initial="", **common
            )
        return forms.BooleanField(initial=default, **common)
    if opt.type is list:
        if opt.choices:
            return forms.MultipleChoiceField(
                choices=[(c, c) for c in opt.choices],
                initial=default,
                widget=forms.CheckboxSelectMultiple,
                **common,
            )
        return forms.CharField(initial=",".join(map(str, default or [])), **common)
    if opt.choices:
        return forms.ChoiceField(
            choices=[("", "default"), *[(c, c) for c in opt.choices]], initial=default, **common
        )
    if opt.type is int:
        return forms.IntegerField(initial=default, **_bounds(opt), **common)
    if opt.type is float:
        # A float's bound may be exclusive ("above 0"); the option's own check says so when it is hit.
        return forms.FloatField(initial=default, **_bounds(opt), **common)
    return forms.CharField(initial=default, max_length=500, **common)


class RunForm(forms.Form):
    """Made for one kind by run_form(); start_arguments() is what runs_start takes."""

    kind: RunKind
    project = forms.ModelChoiceField(queryset=Project.objects.all())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.kind
        start = forms.ModelChoiceField(
            queryset=ModelArtifact.objects.filter(kind__in=kind.starts_from),
            label="Starting model",
            help_text=f"{kinds_words(kind.starts_from)[0].upper()}{kinds_words(kind.starts_from)[1:]}.",
        )
        default = ModelArtifact.objects.filter(
            name=settings.PAIRWISE_DEFAULT_BASE_MODEL, kind__in=kind.starts_from
        ).first()
        if default is not None:
            start.initial = default.pk
        # Named as the command line names it: --policy, or --base for a reward model.
        self.start_field = kind.start_flag.removeprefix("--")
        fields: dict[str, forms.Field] = {"project": self.fields["project"], self.start_field: start}
        for spec in kind.inputs:
            fields[spec.name] = forms.ModelChoiceField(
                queryset=ModelArtifact.objects.filter(kind__in=spec.kinds),
                label=spec.name.replace("_", " ").capitalize(),
                help_text=spec.help[:1].upper() + spec.help[1:] + ".",
            )
        options = [o for o in kind.options if o.cli and o.name != "output_name"]
        fields.update({o.name: option_field(o) for o in options if o.form})
        if kind.cold_start:
            fields[COLD_START] = forms.IntegerField(
                required=False,
                min_value=1,
                label="Cold start",
                help_text=f"N: first an SFT run on up to N demonstrations ({kind.cold_start[0]}), then this run "
                "from its result. Empty: start from the starting model.",
            )
        fields[NAME] = forms.CharField(
            required=False,
            max_length=200,
            label="Name",
            help_text="Name of the model it produces (optional).",
        )
        fields.update({o.name: option_field(o) for o in options if not o.form})
        self.fields = fields
        self.more = [o.name for o in options if not o.form]

    def main_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in self.more]

    def more_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.more]

    def start_arguments(self) -> dict[str, Any]:
        """runs_start's keyword arguments: the models, the options given (empty ones left out, so the
        trainer's default applies), the cold start."""
        data = self.cleaned_data
        options = {}
        if data.get(NAME):
            options["output_name"] = data[NAME]
        for opt in self.kind.options:
            value = data.get(opt.name)
            if opt.name not in self.fields or value in (None, "", []):
                continue
            if opt.type is list and isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            options[opt.name] = opt.stored(value)
        return {
            "project": data["project"],
            "start": data[self.start_field],
            "inputs": {spec.name: data[spec.name] for spec in self.kind.inputs},
            "options": options,
            "cold_start": data.get(COLD_START),
        }


def run_form(kind: RunKind) -> type[RunForm]:
    """The form class for runs of `kind`."""
    return type(f"{kind.name.title()}RunForm", (RunForm,), {"kind": kind})
