"""The models page: every registered model with its lineage, and registering one from the web
(the default base model in one click, or a folder, .gguf file or hub id) as a job with its own
page. Thin: rewardmodel.registry.registration holds the rules; nothing here imports torch.

    GET  /models/                       the registry, and the register form
    POST /models/register/              queue a registration (?next= where to go back when done)
    GET  /models/registrations/<id>/    the registration, live
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from annotate.permissions import manager_required
from pairwise.errors import PairwiseError
from rewardmodel.jobs.views import job_status
from rewardmodel.models import ModelArtifact, RegisterJob
from rewardmodel.registry.registration import DEFAULT, registration_create


class RegisterForm(forms.Form):
    source = forms.CharField(
        max_length=1000,
        help_text="A folder (config.json + *.safetensors) or a .gguf file on the workers' disk, or a hub "
        "id such as HuggingFaceTB/SmolLM2-360M-Instruct where the hub is reachable; 'default' for the "
        "built-in base model.",
    )
    name = forms.CharField(max_length=200, required=False, help_text="Default: from the folder, file or id.")
    kind = forms.ChoiceField(
        choices=[("", "guess from the weights"), *ModelArtifact.Kind.choices], required=False
    )


def _next(request: HttpRequest) -> str:
    """Where a registration started from another page goes back to (that page's own path only)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return target if ok and target.startswith("/") else ""


def _page(request: HttpRequest, form: RegisterForm, *, status: int = 200) -> HttpResponse:
    default = settings.PAIRWISE_DEFAULT_BASE_MODEL
    context = {
        "artifacts": ModelArtifact.objects.select_related("training_run").prefetch_related("parents"),
        "form": form,
        "default_name": default,
        "has_default": ModelArtifact.objects.filter(name=default).exists(),
        "registrations": RegisterJob.objects.select_related("artifact", "created_by")[:20],
    }
    return render(request, "rewardmodel/models_list.html", context, status=status)


@manager_required
def models_list(request: HttpRequest) -> HttpResponse:
    return _page(request, RegisterForm())


@require_POST
@manager_required
def model_register(request: HttpRequest) -> HttpResponse:
    """Queue a registration (the one-click default posts source=default) and open its page."""
    form = RegisterForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = registration_create(
                source=data["source"], name=data["name"], kind=data["kind"], user=request.user
            )
        except PairwiseError as exc:
            form.add_error(None, exc.message)
        else:
            url = reverse("model-register-job", args=[job.pk])
            back = _next(request)
            return redirect(f"{url}?{urlencode({'next': back})}" if back else url)
    return _page(request, form, status=400)


@manager_required
def model_register_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(RegisterJob.objects.select_related("artifact"), pk=pk)
    context = {"job": job, "status": job_status(job), "next": _next(request), "default": DEFAULT}
    return render(request, "rewardmodel/model_register_job.html", context)
