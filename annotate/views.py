"""Labeler pages (thin: the rules live in annotate.services)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Project


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.all() if request.user.is_staff else request.user.labeling_projects.all()
    return render(request, "annotate/home.html", {"projects": projects})
