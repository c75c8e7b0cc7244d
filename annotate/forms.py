"""Forms more than one page uses."""

from __future__ import annotations

from django import forms

from annotate.pair_strategies import STRATEGIES, pairs_options_check
from pairwise.errors import PairwiseError


class PairsFields(forms.Form):
    """How to turn responses into comparisons (annotate.pair_strategies): an import's last step,
    or a job of its own from the project's page."""

    pairs = forms.ChoiceField(
        label="Make pairs",
        choices=list(STRATEGIES.items()),
        initial="all",
        help_text="Labelers judge comparisons; responses alone make none.",
    )
    per_prompt = forms.IntegerField(
        required=False,
        min_value=0,
        help_text="sample: pairs per prompt (default 3); models: default 1, 0 for all.",
    )
    models = forms.CharField(
        required=False,
        help_text="Model names, comma-separated: only their answers (all, sample) or X, Y (models).",
    )
    seed = forms.IntegerField(initial=0, required=False)

    def clean_models(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["models"].split(",") if name.strip()]

    def clean(self):
        data = super().clean()
        strategy = data.get("pairs") or ""
        if strategy:
            try:
                pairs_options_check(strategy=strategy, models=data.get("models") or [])
            except PairwiseError as exc:
                self.add_error("models", exc.message)
        return data

    def pairs_config(self) -> dict:
        data = self.cleaned_data
        return {k: data.get(k) for k in ("pairs", "per_prompt", "models")} | {"seed": data.get("seed") or 0}
