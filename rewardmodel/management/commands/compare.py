"""The comparison report: policies on the same held-out prompts, with what each cost.

    python manage.py compare --project NAME --policies base,sft-1,ppo-1,grpo-1 [--reward-model R]
        [--heldout N] [--seed 0] [--out report.html]

Writes the self-contained HTML file and report.json beside it, stores the report for the page
/reports/<id>/, and prints the table and the commands that reproduce it.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from pairwise.errors import PairwiseError
from rewardmodel.registry.artifacts import artifact_resolve
from rewardmodel.report.build import compare_command, report_build, report_files_write, report_save
from rewardmodel.report.html import arena_cell, hours, usd


class Command(BaseCommand):
    help = (
        "Compare policies (the first is the baseline) on the same held-out prompts of a project: accuracy "
        "and R1 format rate on prompts with a reference answer, the reward model's mean score, KL to the "
        "base and mean length (greedy), arena ratings when the project holds judgments between them, and "
        "each policy's cost ledger (people's hours and money, compute hours and money, tokens) through its "
        "lineage. Writes a self-contained HTML report and report.json beside it, stores it for "
        "/reports/<id>/, and prints the commands that reproduce it."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--policies", required=True, help="comma-separated model names or ids, the baseline first"
        )
        parser.add_argument(
            "--reward-model",
            help="scores every policy's answers (default: the first reward model in the policies' lineages)",
        )
        parser.add_argument(
            "--heldout", type=int, help="measure on the first N held-out prompts (default: all)"
        )
        parser.add_argument("--seed", type=int, default=0, help="evaluation and bootstrap seed (0)")
        parser.add_argument("--max-new-tokens", type=int, default=96, help="tokens per answer (96)")
        parser.add_argument("--batch-size", type=int, default=16, help="prompts per forward pass (16)")
        parser.add_argument(
            "--bootstrap", type=int, default=200, help="bootstrap draws for the arena intervals (200)"
        )
        parser.add_argument(
            "--out", help="the HTML file; report.json goes beside it (default: DATA_DIR/reports/<id>/)"
        )

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        names = [n.strip() for n in opts["policies"].split(",") if n.strip()]
        try:
            policies = [artifact_resolve(name) for name in names]
            reward_model = artifact_resolve(opts["reward_model"]) if opts["reward_model"] else None
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        command = compare_command(
            project=project,
            policies=names,
            reward_model=opts["reward_model"],
            heldout=opts["heldout"],
            seed=opts["seed"],
            max_new_tokens=opts["max_new_tokens"],
            n_bootstrap=opts["bootstrap"],
            out=opts["out"],
        )
        try:
            data = report_build(
                project=project,
                policies=policies,
                reward_model=reward_model,
                heldout=opts["heldout"],
                seed=opts["seed"],
                max_new_tokens=opts["max_new_tokens"],
                batch_size=opts["batch_size"],
                n_bootstrap=opts["bootstrap"],
                compare_command=command,
                progress=lambda message: self.stderr.write(message),
            )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        report = report_save(project=project, data=data, command=command)
        out = report_files_write(report, opts["out"])
        self._table(data)
        self.stdout.write("")
        for note in data["notes"]:
            self.stdout.write(self.style.WARNING(f"{note['subject']}: {note['text']}"))
        self.stdout.write("\nReproduce:")
        for line in data["commands"]:
            self.stdout.write(f"  {line}")
        self.stdout.write(
            f"\nReport #{report.pk}: {out} and {out.with_suffix('.json')}; in the app at /reports/{report.pk}/."
        )

    def _table(self, data: dict) -> None:
        header = (
            "policy",
            "road",
            "accuracy",
            "format",
            "RM score",
            "KL",
            "length",
            "arena",
            "people h",
            "people $",
            "compute h",
            "compute $",
            "total $",
        )
        rows = [header]
        for row in data["policies"]:
            rules, rm, ledger = row.get("rules") or {}, row.get("rm") or {}, row["ledger"]
            length = rm.get("mean_length", rules.get("mean_length"))
            rows.append(
                (
                    row["name"],
                    row["road"],
                    "–" if "accuracy" not in rules else f"{rules['accuracy']:.3f}",
                    "–" if "format_rate" not in rules else f"{rules['format_rate']:.3f}",
                    "–" if "mean_score" not in rm else f"{rm['mean_score']:.3f}",
                    "–" if rm.get("kl") is None else f"{rm['kl']:.3f}",
                    "–" if length is None else f"{length:.1f}",
                    arena_cell((row.get("arena") or {}).get("raw")),
                    hours(ledger["human"]["hours"]),
                    usd(ledger["human"]["usd"]),
                    hours(ledger["compute"]["hours"]),
                    usd(ledger["compute"]["usd"]),
                    usd(ledger["total_usd"]),
                )
            )
        widths = [max(len(str(r[k])) for r in rows) for k in range(len(header))]
        for row in rows:
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            )
