"""python manage.py export_preferences --project NAME [--out PATH] [...]: see annotate/exporting/build.py.

With --out the files go where it says; without, into the export store (annotate.exporting.store,
DATA_DIR/exports/<project id>/<export id>/), where the API's download path serves them.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.exporting.build import judgments_export_raw, preferences_export, simulated_judgments_count
from annotate.exporting.store import export_store_judgments, export_store_preferences
from annotate.management.projects import project_named
from pairwise.errors import PairwiseError


class Command(BaseCommand):
    help = (
        "Export a project's judgments as TRL preference pairs (prompt/chosen/rejected), aggregated "
        "by majority vote; or, with --raw, every judgment with labelers pseudonymized."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument(
            "--out",
            help="Output file (jsonl/csv) or directory (dataset). Without it: a new export in the "
            "export store (DATA_DIR/exports/<project id>/), jsonl or csv only.",
        )
        parser.add_argument("--format", choices=["jsonl", "dataset"], default="jsonl")
        parser.add_argument(
            "--eval-fraction", type=float, default=0.0, help="Share of prompts held out for eval."
        )
        parser.add_argument(
            "--min-agreement", type=float, default=0.0, help="Minimum share of votes for the winner (0-1)."
        )
        parser.add_argument(
            "--keep-ties", action="store_true", help="Emit ties as two mirrored rows marked tie=true."
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of the eval split.")
        parser.add_argument(
            "--conversational",
            action="store_true",
            help="Conversational form for every row even if all prompts are single user turns.",
        )
        parser.add_argument(
            "--raw", choices=["jsonl", "csv"], help="Export raw judgments in this format instead."
        )
        parser.add_argument(
            "--no-simulated",
            action="store_true",
            help="Leave out judgments by simulated labelers (manage.py simulate_labelers).",
        )

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        include_simulated = not opts["no_simulated"]
        simulated = simulated_judgments_count(project=project)
        out = opts["out"]
        if out is None and opts["format"] == "dataset":
            raise CommandError("--format dataset needs --out DIRECTORY (the export store keeps JSONL).")
        try:
            if opts["raw"]:
                if out is None:
                    stored, n = export_store_judgments(
                        project=project, fmt=opts["raw"], include_simulated=include_simulated
                    )
                    out = stored.folder / stored.files[0]
                else:
                    n = judgments_export_raw(
                        project=project, out_path=out, fmt=opts["raw"], include_simulated=include_simulated
                    )
                which = f"{simulated} simulated" if include_simulated else f"{simulated} simulated left out"
                self.stdout.write(f"Wrote {n} judgments ({which}) to {out} (labelers pseudonymized).")
                return
            options = dict(
                eval_fraction=opts["eval_fraction"],
                min_agreement=opts["min_agreement"],
                keep_ties=opts["keep_ties"],
                seed=opts["seed"],
                conversational=True if opts["conversational"] else None,
                include_simulated=include_simulated,
            )
            if out is None:
                _, result = export_store_preferences(project=project, **options)
            else:
                result = preferences_export(project=project, out_path=out, fmt=opts["format"], **options)
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        form = "conversational" if result.conversational else "plain text"
        self.stdout.write(
            f"Exported {result.n_train} train + {result.n_eval} eval rows ({form}) from "
            f"{result.n_comparisons} comparisons, {result.n_judgments} judgments "
            f"({result.n_simulated_judgments} simulated), {result.n_labelers} labelers."
        )
        if not include_simulated and simulated:
            self.stdout.write(f"  left out: the project's {simulated} simulated judgments (--no-simulated)")
        self.stdout.write(f"  train: {result.train_path}")
        if result.eval_path is not None:
            self.stdout.write(f"  eval:  {result.eval_path}")
        self.stdout.write(f"  content sha256: {result.content_hash}")
        if result.n_train == 0:
            self.stderr.write(
                self.style.WARNING("No rows: no comparison has a clear winner under these filters.")
            )
