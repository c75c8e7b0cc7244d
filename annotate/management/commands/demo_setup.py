"""python manage.py demo_setup: a small demo project, a manager and a labeler. Safe to run again.

Never on a server others can reach: it creates a superuser whose password is printed below.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from annotate.importing.write import data_import
from annotate.keys import guidelines_sentence
from annotate.models import Project
from annotate.pair_strategies import comparisons_pair_all

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
PROJECT_NAME = "Demo: helpfulness"
MANAGER = ("manager", "manager-demo")
LABELER = ("labeler", "labeler-demo")
GUIDELINES = f"""\
## Which answer is more helpful?

Read the prompt, then both answers. Pick the one **you would rather receive**.

- **Correct first.** A short right answer beats a long wrong one. Check numbers.
- **Then useful.** Does it answer what was asked, with the detail the person needs?
- **Then clear.** Well organised, easy to follow, no padding.
- **Safe.** Advice that could hurt someone loses, however well written.

Use **tie** when you honestly cannot choose, **both bad** when neither answer should be
given to a user.

{guidelines_sentence()}
"""  # the keys from the screen's own table (annotate/keys.py): the text cannot name other keys


class Command(BaseCommand):
    help = (
        f"Create the demo project {PROJECT_NAME!r} from annotate/demo/, build its comparisons, and "
        "the demo users manager/manager-demo (superuser) and labeler/labeler-demo. Idempotent. "
        "For a local demo only: the passwords are public."
    )

    def handle(self, *args, **opts):
        with transaction.atomic():
            project, created = Project.objects.get_or_create(name=PROJECT_NAME, defaults={"overlap_k": 2})
            # Set on every run: a demo made by an older version gets today's text (and keys).
            project.guidelines, project.guidelines_open_first = GUIDELINES, True
            project.save(update_fields=["guidelines", "guidelines_open_first"])
            results = [
                data_import(project=project, source=DEMO_DIR / name, fmt="responses", filename=name)
                for name in ("responses.jsonl", "arithmetic.jsonl")
            ]
            n_pairs = comparisons_pair_all(project=project).created

            users = get_user_model().objects
            manager, _ = users.get_or_create(username=MANAGER[0])
            manager.is_staff = manager.is_superuser = manager.is_active = True
            manager.set_password(MANAGER[1])
            manager.save()
            labeler, _ = users.get_or_create(username=LABELER[0])
            labeler.is_active = True
            labeler.set_password(LABELER[1])
            labeler.save()
            group, _ = Group.objects.get_or_create(name="labelers")
            labeler.groups.add(group)
            project.labelers.add(labeler)

        n_prompts = sum(r.created["prompts"] for r in results)
        n_responses = sum(r.created["responses"] for r in results)
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} project {PROJECT_NAME!r}: {n_prompts} new prompts, {n_responses} new responses, "
            f"{n_pairs} new comparisons ({project.comparisons.count()} in all)."
        )
        self.stdout.write("")
        self.stdout.write("Open http://127.0.0.1:8000/ and log in as")
        self.stdout.write(
            f"  manager:  {MANAGER[0]} / {MANAGER[1]}   (admin at http://127.0.0.1:8000/admin/)"
        )
        self.stdout.write(f"  labeler:  {LABELER[0]} / {LABELER[1]}")
        self.stdout.write(
            self.style.WARNING("These demo passwords are public: never run demo_setup on a shared server.")
        )
