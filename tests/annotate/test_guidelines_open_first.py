"""Project.guidelines_open_first: set in the admin, handed to the ranking screen (which opens the
panel on a first visit only when it is set: tests/browser/test_screen_text.py)."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from annotate.models import Project


def test_it_is_off_unless_a_project_asks(db):
    assert Project.objects.create(name="New").guidelines_open_first is False


def test_managers_set_it_in_the_project_admin(client, manager, project):
    client.force_login(manager)
    page = client.get(reverse("admin:annotate_project_change", args=[project.pk])).content.decode()
    assert 'name="guidelines_open_first"' in page
    assert "first visit to the ranking screen" in page  # its help text says what it does


def test_the_screen_is_told_whether_to_open_the_guidelines(alice, project):
    client = Client()
    client.force_login(alice)
    url = reverse("label", args=[project.pk])
    assert 'data-open-first="false"' in client.get(url).content.decode()
    Project.objects.filter(pk=project.pk).update(guidelines_open_first=True)
    assert 'data-open-first="true"' in client.get(url).content.decode()
