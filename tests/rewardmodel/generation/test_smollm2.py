"""The real SmolLM2-135M-Instruct (converted from the wheel's GGUF) through the commands."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from annotate.models import Response
from tests.factories import make_project, make_prompt

pytestmark = [pytest.mark.ml, pytest.mark.slow, pytest.mark.django_db]


def test_it_generates_two_short_responses_with_the_real_model(smollm2_dir):
    call_command("register_model", str(smollm2_dir), "--name", "smollm2-test", stdout=StringIO())
    project = make_project("Geography")
    make_prompt(project, "What is the capital of France?")
    out = StringIO()
    call_command(
        "generate_responses",
        *("--project", "Geography", "--model", "smollm2-test", "--per-prompt", "2"),
        *("--temperature", "0.2", "--max-new-tokens", "24", "--seed", "0", "--no-progress"),
        stdout=out,
    )
    assert "2 new responses" in out.getvalue()
    responses = list(Response.objects.filter(prompt__project=project).order_by("seed"))
    assert len(responses) == 2 and responses[0].seed != responses[1].seed
    assert all(r.text and r.generation_params["new_tokens"] <= 24 for r in responses)
    # A working 135M instruct model answers this one; random or mis-tokenized weights would not.
    assert any("Paris" in r.text for r in responses), [r.text for r in responses]
