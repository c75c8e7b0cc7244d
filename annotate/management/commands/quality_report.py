"""python manage.py quality_report --project NAME [--json] [--window day|week] [--store]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from annotate.models import QualitySnapshot
from annotate.quality.report import WINDOWS, quality_report_compute
from annotate.quality.stored import snapshot_store
from pairwise.errors import PairwiseError


def _f(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(pair, digits: int = 3) -> str:
    return "" if not pair else f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


class Command(BaseCommand):
    help = "Agreement, gold accuracy, position bias, streaks and speed per labeler for a project."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--window", choices=WINDOWS, default="auto", help="Agreement time window.")
        parser.add_argument(
            "--bootstrap", type=int, default=1000, help="Bootstrap resamples (0: no intervals)."
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--store", action="store_true", help="Also store it for the quality page.")

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        if opts["bootstrap"] < 0:
            raise CommandError("--bootstrap cannot be negative.")
        params = {"window": opts["window"], "n_bootstrap": opts["bootstrap"], "seed": opts["seed"]}
        try:
            report = quality_report_compute(project=project, **params)
        except PairwiseError as exc:
            raise CommandError(exc.message) from exc
        if opts["store"]:
            snapshot_store(project=project, kind=QualitySnapshot.Kind.QUALITY, data=report, params=params)
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self._print(report)

    def _print(self, r: dict) -> None:
        out = self.stdout.write
        a, t = r["agreement"], r["totals"]
        out(
            f"Quality report: {r['project']['name']}   ({t['judgments']} judgments, {t['simulated_judgments']} "
            f"of them simulated; {t['labelers']} labelers, {t['simulated_labelers']} simulated, "
            f"{len(t['excluded_labelers'])} excluded; computed in {r['seconds']:.2f} s)"
        )
        out("")
        out(f"Krippendorff's alpha (nominal)  {_f(a['alpha'])}  {_ci(a['alpha_ci'])}")
        out(f"Raw pairwise agreement          {_f(a['raw'])}  {_ci(a['raw_ci'])}")
        out(
            f"over {a['units']} comparisons, {a['pairs']} pairs, {a['judgments']} judgments "
            f"({a['simulated_judgments']} simulated); "
            f"median {_f(t['median_seconds'], 1)} s per judgment"
        )
        if r["windows"]:
            out("")
            out(f"Per {r['params']['window']}:")
            out(f"  {'from':<10}  {'comparisons':>11}  {'raw':>6}  {'alpha':>6}  alpha 95 %")
            for w in r["windows"]:
                out(
                    f"  {w['start'][:10]:<10}  {w['units']:>11}  {_f(w['raw']):>6}  {_f(w['alpha']):>6}  {_ci(w['alpha_ci'])}"
                )
        out("")
        header = (
            f"{'labeler':<20} {'judg':>6} {'med s':>6} {'majority':>9} {'gold':>16} "
            f"{'left share (p)':>18} {'streak (p)':>16} {'fast':>9}  flags"
        )
        out(header)
        out("-" * len(header))
        for row in r["labelers"]:
            name = (
                row["username"]
                + (" (excl.)" if row["excluded"] else "")
                + (" (sim.)" if row["simulated"] else "")
            )
            g, p, s, sp = row["gold"], row["position"], row["streak"], row["speed"]
            gold = f"{g['correct']}/{g['answered']} {_f(g['accuracy'], 2)}" if g["answered"] else "-"
            left = f"{_f(p['share_left'], 2)} ({p['p_value']:.1g})" if p["share_left"] is not None else "-"
            streak = f"{s['length']}x{s['choice']} ({s['p_value']:.1g})" if s["choice"] else "-"
            fast = f"{sp['fast']}/{sp['timed']}" if sp["timed"] else "-"
            out(
                f"{name[:20]:<20} {row['judgments']:>6} {_f(row['median_seconds'], 1):>6} "
                f"{_f(row['loo']['rate'], 2):>9} {gold:>16} {left:>18} {streak:>16} {fast:>9}  "
                f"{', '.join(row['flags']) or '-'}"
            )
