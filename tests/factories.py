"""Plain helpers that build test data (no factory library: a few functions read better)."""

from __future__ import annotations

from itertools import count

from django.contrib.auth.models import Group, Permission, User

from annotate.models import Comparison, Project, Prompt, Response, content_hash
from annotate.permissions import MANAGER_PERMISSION

_seq = count(1)


def make_user(username: str, *, staff: bool = False, labeler: bool = True, manager: bool = False) -> User:
    """A user with password "pw-<username>". `manager`: staff in the `managers` group (made by a
    migration), which is what manager pages and endpoints check; `staff` alone opens none of them."""
    user = User.objects.create_user(username=username, password="pw-" + username, is_staff=staff or manager)
    if labeler:
        group, _ = Group.objects.get_or_create(name="labelers")
        user.groups.add(group)
    if manager:
        # get_or_create: a transactional test's flush empties the group that migration 0004 made.
        group, _ = Group.objects.get_or_create(name="managers")
        app_label, codename = MANAGER_PERMISSION.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        user.groups.add(group)
    return user


def make_project(name: str | None = None, *, labelers: tuple[User, ...] = (), **fields) -> Project:
    project = Project.objects.create(name=name or f"project-{next(_seq)}", **fields)
    project.labelers.add(*labelers)
    return project


def make_prompt(project: Project, text: str | None = None, **fields) -> Prompt:
    text = text or f"Prompt number {next(_seq)}?"
    messages = [{"role": "user", "content": text}]
    return Prompt.objects.create(
        project=project, messages=messages, content_hash=content_hash(messages), **fields
    )


def make_response(prompt: Prompt, text: str | None = None, *, model_name: str = "model-x") -> Response:
    text = text or f"Response {next(_seq)}"
    return Response.objects.create(
        prompt=prompt, text=text, model_name=model_name, content_hash=content_hash(text)
    )


def make_comparison(
    project: Project, *, prompt_text: str | None = None, a: str | None = None, b: str | None = None, **fields
) -> Comparison:
    prompt = make_prompt(project, prompt_text)
    ra, rb = make_response(prompt, a, model_name="model-a"), make_response(prompt, b, model_name="model-b")
    return Comparison.objects.create(project=project, prompt=prompt, response_a=ra, response_b=rb, **fields)


def make_comparisons(project: Project, n: int, **fields) -> list[Comparison]:
    return [make_comparison(project, **fields) for _ in range(n)]
