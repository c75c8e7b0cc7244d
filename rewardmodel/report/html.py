"""The comparison report drawn from its data (rewardmodel/report/build.py): table rows, plain-word
sentences and server-drawn SVG charts (annotate/quality/svg.py), for the self-contained HTML file
and for the page /reports/<id>/. Only cheap work: no queries, no statistics.

    html = report_document(data)   # one file: inline CSS and SVG, no script, nothing fetched
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from annotate.quality import svg
from rewardmodel.evaluation.ledger import LedgerData
from rewardmodel.report.data import Gains, PolicyRow, ReportData

ROAD_WORDS = {
    "base": "no training",
    "supervised": "supervised fine-tuning only",
    "human feedback": "people's judgments → reward model → PPO, or DPO",
    "rules": "rule-based rewards → GRPO",
}


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def usd(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "$0"
    if abs(value) < 0.01:
        return "< $0.01"
    return f"${value:,.2f}"


def hours(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "0 h"
    if value < 1 / 60:
        return f"{value * 3600:.1f} s"
    if value < 1:
        return f"{value * 60:.1f} min"
    return f"{value:,.1f} h"


def _params(counts: list[int]) -> str:
    if not counts:
        return "models of unrecorded size"
    words = [
        f"{c / 1e9:.1f} B" if c >= 1e9 else f"{c / 1e6:.1f} M" if c >= 1e6 else f"{c / 1e3:.1f} K"
        for c in counts
    ]
    return f"models of {' and '.join(words)} parameters"


def scale_sentence(data: ReportData) -> str:
    s = data["scale"]
    devices = ", ".join(s["devices"]) or "no recorded device"
    pairs = (
        f"trained on {s['pairs']} preference pairs from {s['judgments']} judgments"
        if s["pairs"]
        else "no model trained from judgments in these lineages"
    )
    return (
        f"Scale: {_params(s['parameters'])}; {pairs}; {s['runs']} training runs, "
        f"{s['training_minutes']:.1f} minutes in all, on {devices}; measured on {s['heldout_prompts']} held-out "
        f"prompts ({s['verifiable_prompts']} with a reference answer), greedy decoding."
    )


def arena_cell(entry: dict | None) -> str:
    if not entry or entry.get("elo") is None:
        return "–"
    ci = entry.get("elo_ci")
    return f"{entry['elo']:.0f}" + (f" ({ci[0]:.0f}–{ci[1]:.0f})" if ci else "")


def _quality_row(row: PolicyRow) -> dict[str, Any]:
    rules, rm, arena = row.get("rules") or {}, row.get("rm") or {}, row.get("arena") or {}
    length = rm.get("mean_length", rules.get("mean_length"))
    return {
        "name": row["name"],
        "road": row["road"],
        "accuracy": _pct(rules.get("accuracy")),
        "format": _pct(rules.get("format_rate")),
        "rules_error": rules.get("error", ""),
        "score": _f(rm.get("mean_score")),
        "kl": _f(rm.get("kl")),
        "length": _f(length, 1),
        "rm_error": rm.get("error", ""),
        "arena": arena_cell(arena.get("raw")),
        "arena_style": arena_cell(arena.get("style")),
    }


def _ledger_cells(ledger: LedgerData) -> dict[str, str]:
    human, sim = ledger["human"], ledger["simulated"]
    return {
        "human_n": human["n"],
        "human_hours": hours(human["hours"]),
        "human_estimated": hours(human["estimated_hours"]) if human["estimated_hours"] else "",
        "human_usd": usd(human["usd"]),
        "simulated_n": sim["n"],
        "simulated_hours": hours(sim["hours_if_human"]) if sim["n"] else "",
        "imported_n": ledger["imported"]["n"],
        "compute_hours": hours(ledger["compute"]["hours"]),
        "compute_usd": usd(ledger["compute"]["usd"]),
        "tokens": f"{ledger['tokens']:,}",
        "total_usd": usd(ledger["total_usd"]),
    }


def _per_point(gains: Gains, metric: str) -> dict[str, str]:
    points = gains.get(f"{metric}_points")
    if points is None:
        return {"points": "–", "usd": "–", "human": "", "compute": ""}
    return {
        "points": "–" if points is None else f"{points:+.1f}",
        "usd": usd(gains.get(f"usd_per_{metric}_point")) if points and points > 0 else "no gain",
        "human": hours(gains.get(f"human_hours_per_{metric}_point")) if points and points > 0 else "",
        "compute": hours(gains.get(f"compute_hours_per_{metric}_point")) if points and points > 0 else "",
    }


def _charts(data: ReportData) -> dict[str, Any]:
    rows = data["policies"]
    curves = [
        svg.line_chart(
            [(str(int(step)), value, None, None) for step, value in curve["points"]],
            title=f"Run #{curve['run_id']} ({curve['model']}): {curve['label']} per step",
            y_label=curve["key"],
            height=180,
        )
        for curve in data["curves"]
    ]
    accurate = [r for r in rows if "accuracy" in (r.get("rules") or {})]
    accuracy_chart = None
    if accurate:
        accuracy_chart = svg.scatter(
            [
                svg.Point(x=r["ledger"]["compute"]["hours"], y=r["rules"]["accuracy"], label=r["name"])
                for r in accurate
            ],
            title="Held-out accuracy against compute hours of the policy's lineage",
            x_label="compute hours",
            y_label="accuracy",
            label_all=True,
            x_fmt="{:.3g}",
            empty="No policy was measured on verifiable prompts.",
        )
    scored = [r for r in rows if (r.get("rm") or {}).get("kl") is not None]
    rm_chart = None
    if scored:
        scores = [r["rm"]["mean_score"] for r in scored]
        pad = (max(scores) - min(scores)) * 0.15 or 1.0
        kls = [r["rm"]["kl"] for r in scored]
        rm_chart = svg.scatter(
            [svg.Point(x=r["rm"]["kl"], y=r["rm"]["mean_score"], label=r["name"]) for r in scored],
            title=f"Reward-model score ({data['params']['reward_model']}) against KL to the base",
            x_label="KL to the base (nats)",
            y_label="RM score",
            y_range=(min(scores) - pad, max(scores) + pad),
            x_range=(0.0, max(kls) * 1.15 or 1.0),
            label_all=True,
            x_fmt="{:.3g}",
        )
    money = [r["ledger"]["total_usd"] for r in rows]
    time = [r["ledger"]["total_hours"] for r in rows]
    cost_chart = svg.bars(
        [
            svg.Bar(
                label=r["name"],
                value=r["ledger"]["total_usd"],
                note=f"people {usd(r['ledger']['human']['usd'])}, compute {usd(r['ledger']['compute']['usd'])}",
            )
            for r in rows
        ],
        title="What each policy cost: people and compute, US dollars",
        x_label="US dollars",
        x_hi=max(money) * 1.1 or 1.0,
    )
    hours_chart = svg.bars(
        [
            svg.Bar(
                label=r["name"],
                value=r["ledger"]["total_hours"],
                note=f"people {hours(r['ledger']['human']['hours'])}, compute {hours(r['ledger']['compute']['hours'])}",
            )
            for r in rows
        ],
        title="What each policy took: people's hours and compute hours",
        x_label="hours",
        x_hi=max(time) * 1.1 or 1.0,
    )
    return {
        "curve_charts": curves,
        "accuracy_chart": accuracy_chart,
        "rm_chart": rm_chart,
        "cost_chart": cost_chart,
        "hours_chart": hours_chart,
    }


def report_context(data: ReportData) -> dict[str, Any]:
    """Everything the report template shows, formatted."""
    rows = data["policies"]
    runs: dict[int, dict] = {}
    paces: dict[str, dict] = {}
    ledger_notes: list[str] = []
    for row in rows:
        for run in row["ledger"]["runs"]:
            runs.setdefault(run["run_id"], {**run, "policy": row["name"]})
        paces.update(row["ledger"]["paces"])
        ledger_notes += [n for n in row["ledger"]["notes"] if n not in ledger_notes]
    arena = data["arena"]
    return {
        "data": data,
        "title": f"{data['project']['name']}: {', '.join(data['params']['policies'])}",
        "scale_sentence": scale_sentence(data),
        "quality_rows": [_quality_row(r) for r in rows],
        "ledger_rows": [{"name": r["name"], "road": r["road"], **_ledger_cells(r["ledger"])} for r in rows],
        "road_rows": [
            {
                "road": road["road"],
                "words": ROAD_WORDS.get(road["road"], ""),
                "policies": ", ".join(road["policies"]),
                "best": road["best"],
                "accuracy": _per_point(road["gains"], "accuracy"),
                "elo": _per_point(road["gains"], "elo"),
                **_ledger_cells(road["ledger"]),
            }
            for road in data["roads"]
        ],
        "gain_rows": [
            {
                "name": r["name"],
                "accuracy": _per_point(r["gains"], "accuracy"),
                "elo": _per_point(r["gains"], "elo"),
            }
            for r in rows[1:]
        ],
        "run_rows": [
            {
                "id": run["run_id"],
                "kind": run["kind"],
                "model": run["model"],
                "policy": run["policy"],
                "device": run["device"] or "not recorded",
                "devices": run["devices"],
                "rate": f"{usd(run['rate_usd'])}/h ({run['rate_key']})" if run["rate_key"] else "no rate",
                "wall": hours(run["wall_seconds"] / 3600),
                "hours": hours(run["hours"]),
                "usd": usd(run["usd"]),
                "tokens": f"{run['tokens']:,}",
            }
            for _, run in sorted(runs.items())
        ],
        "paces": [
            {
                "project": p["project"],
                "rate": usd(p["hourly_rate"]),
                "median": f"{p['median_seconds']:.1f} s",
                "measured": p["measured"],
            }
            for p in paces.values()
        ],
        "rates": sorted(data["rates"]["device_hourly_usd"].items()),
        "ledger_notes": ledger_notes,
        "arena": arena,
        "commands": "\n".join(data["commands"]),
        **_charts(data),
    }


def report_document(data: ReportData) -> SafeString:
    """The report as one self-contained HTML file."""
    return render_to_string("reports/document.html", report_context(data))
