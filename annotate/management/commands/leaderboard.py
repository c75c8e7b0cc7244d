"""python manage.py leaderboard --project NAME [--json] [--sources a,b] [--store]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotate.errors import PairwiseError
from annotate.management.commands.quality_report import project_named
from annotate.models import QualitySnapshot
from annotate.quality.leaderboard import leaderboard_compute
from annotate.quality.snapshots import snapshot_store


class Command(BaseCommand):
    help = "Bradley-Terry leaderboard of the response sources compared in a project."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--json", action="store_true", help="Print the leaderboard as JSON.")
        parser.add_argument("--sources", help="Comma-separated sources to rank (default: all).")
        parser.add_argument(
            "--bootstrap", type=int, default=200, help="Bootstrap resamples (0: no intervals)."
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--store", action="store_true", help="Also store it for the leaderboard page.")

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        if opts["bootstrap"] < 0:
            raise CommandError("--bootstrap cannot be negative.")
        sources = [s.strip() for s in opts["sources"].split(",") if s.strip()] if opts["sources"] else None
        params = {"sources": sources, "n_bootstrap": opts["bootstrap"], "seed": opts["seed"]}
        try:
            board = leaderboard_compute(project=project, **params)
        except PairwiseError as exc:
            raise CommandError(exc.message) from exc
        if opts["store"]:
            snapshot_store(project=project, kind=QualitySnapshot.Kind.LEADERBOARD, data=board, params=params)
        if opts["json"]:
            self.stdout.write(json.dumps(board, indent=2))
            return
        out = self.stdout.write
        out(
            f"Leaderboard: {project.name}   ({board['comparisons']} comparisons; computed in {board['seconds']:.2f} s)"
        )
        if not board["sources"]:
            out("No comparisons between different sources yet.")
            return
        width = max(len(row["source"]) for row in board["sources"])
        out(f"{'#':>3}  {'source':<{width}}  {'rating':>6}  {'95 %':>13}  {'games':>8}  {'win rate':>8}")
        for row in board["sources"]:
            ci = f"{row['elo_ci'][0]:.0f} to {row['elo_ci'][1]:.0f}" if row["elo_ci"] else ""
            out(
                f"{row['rank']:>3}  {row['source']:<{width}}  {row['elo']:>6.0f}  {ci:>13}  "
                f"{row['games']:>8.0f}  {row['win_rate']:>8.3f}"
            )
        m = board["matrix"]
        out("")
        out("Win rate of row over column (judgments):")
        out(" " * (width + 2) + "  ".join(f"{s[:12]:>12}" for s in m["sources"]))
        for source, rates, games in zip(m["sources"], m["win_rate"], m["games"], strict=True):
            cells = [
                f"{'-':>12}"
                if other == source
                else f"{'':>12}"
                if rate is None
                else f"{rate:>5.2f} ({g:>4.0f})".rjust(12)
                for other, rate, g in zip(m["sources"], rates, games, strict=True)
            ]
            out(f"{source:<{width}}  " + "  ".join(cells))
