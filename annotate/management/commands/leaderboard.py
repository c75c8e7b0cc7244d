"""python manage.py leaderboard --project NAME [--json] [--sources a,b] [--store] [--no-style]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from annotate.models import QualitySnapshot
from annotate.quality.leaderboard import leaderboard_compute
from annotate.quality.stored import snapshot_store
from pairwise.errors import PairwiseError


def _ci(row: dict) -> str:
    return f"{row['elo_ci'][0]:.0f} to {row['elo_ci'][1]:.0f}" if row["elo_ci"] else ""


class Command(BaseCommand):
    help = (
        "Bradley-Terry leaderboard of the response sources compared in a project, raw and style-controlled "
        "(length and markdown differences as covariates, as Chatbot Arena does)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--json", action="store_true", help="Print the leaderboard as JSON.")
        parser.add_argument("--sources", help="Comma-separated sources to rank (default: all).")
        parser.add_argument(
            "--bootstrap", type=int, default=200, help="Bootstrap resamples (0: no intervals)."
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--store", action="store_true", help="Also store it for the leaderboard page.")
        parser.add_argument(
            "--no-style",
            action="store_true",
            help="Skip the style-controlled ratings (one fit per comparison and resample: the slow part).",
        )

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        if opts["bootstrap"] < 0:
            raise CommandError("--bootstrap cannot be negative.")
        sources = [s.strip() for s in opts["sources"].split(",") if s.strip()] if opts["sources"] else None
        params = {
            "sources": sources,
            "n_bootstrap": opts["bootstrap"],
            "seed": opts["seed"],
            "style": not opts["no_style"],
        }
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
        styled = board.get("style_controlled") or {}
        styled_rows = {row["source"]: row for row in styled.get("sources", [])}
        width = max(len(row["source"]) for row in board["sources"])
        out(
            f"{'#':>3}  {'source':<{width}}  {'rating':>6}  {'95 %':>13}  {'games':>8}  {'win rate':>8}"
            + (f"  {'style-controlled':>16}  {'95 %':>13}" if styled_rows else "")
        )
        for row in board["sources"]:
            line = (
                f"{row['rank']:>3}  {row['source']:<{width}}  {row['elo']:>6.0f}  {_ci(row):>13}  "
                f"{row['games']:>8.0f}  {row['win_rate']:>8.3f}"
            )
            if row["source"] in styled_rows:
                other = styled_rows[row["source"]]
                line += f"  {other['elo']:>16.0f}  {_ci(other):>13}"
            out(line)
        if styled_rows:
            coefficients = ", ".join(
                f"{name} {c['value']:+.3f}"
                + (f" ({c['ci'][0]:+.3f} to {c['ci'][1]:+.3f})" if c["ci"] else "")
                for name, c in styled["coefficients"].items()
                if c["value"] is not None
            )
            out(
                "Style coefficients (log-odds of winning per standard deviation of the normalised "
                f"difference, length in {styled['length_unit']}): {coefficients or 'none (no style varies)'}"
            )
        elif styled.get("skipped"):
            out(f"Style control skipped: {styled['skipped']}")
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
