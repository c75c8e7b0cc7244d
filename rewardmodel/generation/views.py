"""Manager pages for generation jobs: a form that starts one, a page that shows it live (it polls
the one job status view, rewardmodel.jobs.views).

Thin: rewardmodel.generation.responses holds the rules. No torch here (the worker runs the model).
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from annotate.models import Project, Prompt
from annotate.permissions import manager_required
from pairwise.errors import PairwiseError
from rewardmodel.generation.responses import GenerationOptions, generation_job_create
from rewardmodel.jobs.views import job_status
from rewardmodel.models import GENERATIVE_KINDS, GenerationJob, ModelArtifact

DEFAULTS = GenerationOptions()


class GenerationForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    model = forms.ModelChoiceField(queryset=ModelArtifact.objects.filter(kind__in=GENERATIVE_KINDS))
    per_prompt = forms.IntegerField(min_value=1, max_value=64, initial=DEFAULTS.per_prompt)
    temperature = forms.FloatField(
        min_value=0, max_value=5, initial=DEFAULTS.temperature, help_text="0 = greedy"
    )
    top_p = forms.FloatField(min_value=0.01, max_value=1, initial=DEFAULTS.top_p)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=8192, initial=DEFAULTS.max_new_tokens)
    seed = forms.IntegerField(initial=DEFAULTS.seed)
    batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=DEFAULTS.batch_size)
    split = forms.ChoiceField(choices=[("", "all prompts"), *Prompt.Split.choices], required=False)

    def options(self) -> GenerationOptions:
        data = dict(self.cleaned_data)
        data.pop("project"), data.pop("model")
        return GenerationOptions(**data)


@manager_required
def generation_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = GenerationForm(request.POST)
        if form.is_valid():
            try:
                job = generation_job_create(
                    project=form.cleaned_data["project"],
                    model=form.cleaned_data["model"],
                    options=form.options(),
                    user=request.user,
                )
            except PairwiseError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("generation-job", pk=job.pk)
    else:
        form = GenerationForm(
            initial={"model": request.GET.get("model"), "project": request.GET.get("project")}
        )
    context = {
        "form": form,
        "has_models": form.fields["model"].queryset.exists(),
        "next": request.get_full_path(),
    }
    return render(request, "rewardmodel/generation_new.html", context)


@manager_required
def generation_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(GenerationJob.objects.select_related("project", "model"), pk=pk)
    return render(request, "rewardmodel/generation_job.html", {"job": job, "status": job_status(job)})
