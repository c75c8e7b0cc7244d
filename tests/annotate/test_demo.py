from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotate.keys import guidelines_sentence
from annotate.management.commands.demo_setup import GUIDELINES, PROJECT_NAME
from annotate.models import Comparison, Project, Prompt, Response
from annotate.services import comparison_assign_next
from tests.factories import make_project


def demo_counts(project):
    return (
        Prompt.objects.filter(project=project).count(),
        Response.objects.filter(prompt__project=project).count(),
        Comparison.objects.filter(project=project).count(),
    )


def test_it_sets_up_the_demo_once_however_often_it_runs(db, capsys):
    call_command("demo_setup")
    out = capsys.readouterr().out
    project = Project.objects.get(name="Demo: helpfulness")
    assert project.overlap_k == 2 and project.guidelines.startswith("## Which answer")
    prompts, responses, comparisons = demo_counts(project)
    assert prompts == 50 and 100 <= responses <= 140
    # All pairs per prompt: 2 responses give 1 pair, 3 give 3, 4 give 6.
    sizes = [p.responses.count() for p in Prompt.objects.filter(project=project)]
    assert comparisons == sum(n * (n - 1) // 2 for n in sizes)
    assert set(Response.objects.values_list("model_name", flat=True)) == {"heron-7b", "sparrow-1b"}
    arithmetic = [p for p in Prompt.objects.filter(project=project) if "arithmetic" in p.tags]
    assert len(arithmetic) == 20 and all(p.reference_answer for p in arithmetic)
    assert sum(p.split == "heldout" for p in arithmetic) == 5
    assert "manager / manager-demo" in out and "labeler / labeler-demo" in out
    assert "http://127.0.0.1:8000/" in out

    call_command("demo_setup")
    out = capsys.readouterr().out
    assert demo_counts(project) == (prompts, responses, comparisons)
    assert "0 new prompts, 0 new responses, 0 new comparisons" in out
    assert Project.objects.filter(name="Demo: helpfulness").count() == 1


def test_the_demo_users_can_log_in_and_the_labeler_gets_work(db):
    call_command("demo_setup")
    users = get_user_model().objects
    manager, labeler = users.get(username="manager"), users.get(username="labeler")
    assert manager.is_staff and manager.is_superuser and manager.check_password("manager-demo")
    assert labeler.check_password("labeler-demo") and not labeler.is_staff
    assert labeler.groups.filter(name="labelers").exists()
    project = Project.objects.get(name="Demo: helpfulness")
    assert project.labelers.filter(pk=labeler.pk).exists()
    assert comparison_assign_next(labeler=labeler, project=project) is not None


def test_the_demo_guidelines_say_the_screens_keys(db):
    call_command("demo_setup")
    project = Project.objects.get(name=PROJECT_NAME)
    assert guidelines_sentence() in project.guidelines
    assert "`A` / `B` to choose" not in project.guidelines  # the old text named keys the screen lacks
    assert project.guidelines_open_first  # a demo visitor sees them first


def test_it_fixes_the_guidelines_of_a_demo_made_before(db, capsys):
    old = "Keyboard: `A` / `B` to choose, `1` `2` `3` for how much better."
    make_project(PROJECT_NAME, guidelines=old, overlap_k=2)
    call_command("demo_setup")
    project = Project.objects.get(name=PROJECT_NAME)
    assert project.guidelines == GUIDELINES
    assert project.guidelines_open_first
    assert f"Updated project {PROJECT_NAME!r}" in capsys.readouterr().out
