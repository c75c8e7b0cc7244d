from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from annotate.quality.agreement import (
    agreement_of,
    alpha_from_patterns,
    alpha_package,
    leave_one_out,
    patterns_of,
    unit_value_counts,
)
from annotate.quality.report import quality_report_compute
from tests.annotate.quality.sim import outcome_to_shown, shown_to_winner
from tests.factories import make_comparison, make_user

# The worked example. Outcome codes: 0 response_a, 1 response_b, 2 tie, 3 both bad.
#   unit 1: alice a, bob a, carol a       3 pairs, 3 agree
#   unit 2: alice a, bob b                1 pair,  0 agree
#   unit 3: alice b, bob b, carol tie     3 pairs, 1 agree
#   unit 4: alice tie, bob both_bad       1 pair,  0 agree
#   unit 5: alice a                       not pairable
# Raw agreement 4 / 8 = 0.5.
# Coincidences o[c, k] = sum over units of n_c (n_k - [c == k]) / (m_u - 1):
#   a: [3, 1, 0, 0]   b: [1, 1, 1, 0]   tie: [0, 1, 0, 1]   both_bad: [0, 0, 1, 0]
#   n_v = [4, 3, 2, 1], n = 10, observed disagreement = 10 - trace 4 = 6,
#   expected = (n^2 - sum n_v^2) / (n - 1) = (100 - 30) / 9 = 70 / 9,
#   alpha = 1 - 6 / (70 / 9) = 1 - 54 / 70 = 8 / 35.
EXAMPLE = {
    "alice": {1: 0, 2: 0, 3: 1, 4: 2, 5: 0},
    "bob": {1: 0, 2: 1, 3: 1, 4: 3},
    "carol": {1: 0, 3: 2},
}


def _columns(example):
    units, values, coders = [], [], []
    for coder, answers in example.items():
        for unit, value in answers.items():
            units.append(unit)
            values.append(value)
            coders.append(coder)
    return np.array(units), np.array(values), np.array(coders)


def _reliability(example, units=(1, 2, 3, 4, 5)):
    return np.array([[answers.get(u, np.nan) for u in units] for answers in example.values()], dtype=float)


def test_it_matches_the_hand_computed_example():
    units, values, _ = _columns(EXAMPLE)
    _, _, vc = unit_value_counts(units, values)
    result = agreement_of(vc, n_bootstrap=0, rng=np.random.default_rng(0))
    assert result.raw == pytest.approx(0.5)
    assert result.alpha == pytest.approx(8 / 35)
    assert (result.units, result.pairs, result.judgments) == (4, 8, 10)
    # The package on the coders x units reliability matrix says the same.
    package = krippendorff.alpha(reliability_data=_reliability(EXAMPLE), level_of_measurement="nominal")
    assert package == pytest.approx(8 / 35)
    assert float(alpha_from_patterns(patterns_of(vc))) == pytest.approx(8 / 35)


def test_it_computes_leave_one_out_majority_agreement_by_hand():
    units, values, coders = _columns(EXAMPLE)
    _, inv, vc = unit_value_counts(units, values)
    loo = leave_one_out(inv, values, vc, np.ones(len(values), bool))
    got = {c: (int(loo.decided[coders == c].sum()), int(loo.agrees[coders == c].sum())) for c in EXAMPLE}
    # alice: unit 1 agrees with (a, a); unit 2 against b; unit 3 others split b/tie (no majority);
    # unit 4 against both_bad. bob likewise. carol: unit 1 agrees, unit 3 against (b, b).
    assert got == {"alice": (3, 1), "bob": (3, 1), "carol": (2, 1)}


def test_it_equals_the_package_on_random_data_and_on_bootstrap_resamples():
    rng = np.random.default_rng(3)
    n_units, n_coders = 300, 7
    truth = rng.integers(0, 4, n_units)
    data = np.where(rng.random((n_coders, n_units)) < 0.6, truth, rng.integers(0, 4, (n_coders, n_units)))
    data = data.astype(float)
    data[rng.random(data.shape) < 0.5] = np.nan  # sparse: most units judged by a few coders
    coder, unit = np.nonzero(~np.isnan(data))
    _, _, vc = unit_value_counts(unit, data[coder, unit].astype(int))
    # vc skips units nobody judged; the package ignores them anyway.
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert alpha_package(vc) == pytest.approx(expected, abs=1e-12)
    assert float(alpha_from_patterns(patterns_of(vc))) == pytest.approx(expected, abs=1e-12)
    # A bootstrap resample as a multinomial over patterns equals the package on the resampled units.
    pats = patterns_of(vc)
    pairable = vc[vc.sum(axis=1) >= 2]
    idx = rng.integers(0, len(pairable), len(pairable))
    keys = {tuple(r): k for k, r in enumerate(pats.rows.tolist())}
    weights = np.bincount([keys[tuple(r)] for r in pairable[idx].tolist()], minlength=len(pats.counts))
    resampled = krippendorff.alpha(value_counts=pairable[idx], level_of_measurement="nominal")
    assert float(alpha_from_patterns(pats, weights.astype(float))) == pytest.approx(resampled, abs=1e-12)


def test_it_gives_a_bootstrap_interval_around_the_estimate():
    rng = np.random.default_rng(5)
    units = np.repeat(np.arange(400), 3)
    truth = np.repeat(rng.integers(0, 2, 400), 3)
    values = np.where(rng.random(1200) < 0.7, truth, rng.integers(0, 4, 1200))
    _, _, vc = unit_value_counts(units, values)
    result = agreement_of(vc, n_bootstrap=500, rng=rng)
    assert result.alpha_ci[0] < result.alpha < result.alpha_ci[1]
    assert result.raw_ci[0] < result.raw < result.raw_ci[1]
    assert result.alpha_ci[1] - result.alpha_ci[0] < 0.15


def test_it_reports_no_alpha_when_nothing_is_judged_twice():
    _, _, vc = unit_value_counts(np.array([1, 2, 3]), np.array([0, 1, 0]))
    result = agreement_of(vc, n_bootstrap=100, rng=np.random.default_rng(0))
    assert result.units == 0 and result.alpha is None and result.raw is None


CODES = ("response_a", "response_b", "tie", "both_bad")


def _store_example(project, users):
    from annotate.models import Judgment, SideOrder

    comparisons = {u: make_comparison(project) for u in range(1, 6)}
    n = 0
    for name, answers in EXAMPLE.items():
        for unit, value in answers.items():
            c = comparisons[unit]
            side = SideOrder.BA if n % 2 else SideOrder.AB  # both orders: agreement must not care
            shown = outcome_to_shown(CODES[value], side)
            Judgment.objects.create(
                comparison=c,
                labeler=users[name],
                choice=shown,
                side_order=side,
                winner_id=shown_to_winner(c, side, shown),
                seconds_on_task=20.0 + n,
                client_id=f"ex-{name}-{unit}",
            )
            n += 1
    return comparisons


def test_it_computes_the_example_from_stored_judgments(alice, bob, carol, project):
    _store_example(project, {"alice": alice, "bob": bob, "carol": carol})
    report = quality_report_compute(project=project, n_bootstrap=50)
    assert report["agreement"]["raw"] == pytest.approx(0.5)
    assert report["agreement"]["alpha"] == pytest.approx(8 / 35)
    loo = {row["username"]: (row["loo"]["compared"], row["loo"]["agreed"]) for row in report["labelers"]}
    assert loo == {"alice": (3, 1), "bob": (3, 1), "carol": (2, 1)}
    assert len(report["windows"]) == 1 and report["windows"][0]["alpha"] == pytest.approx(8 / 35)


def test_it_drops_an_excluded_labeler_from_the_agreement_figures(alice, bob, carol, project):
    from annotate.quality.exclusion import labeler_exclude, labeler_reinstate

    manager = make_user("boss", staff=True, labeler=False)
    _store_example(project, {"alice": alice, "bob": bob, "carol": carol})
    labeler_exclude(project=project, labeler=carol, reason="test", by=manager)
    report = quality_report_compute(project=project, n_bootstrap=0)
    # Without carol: unit 1 (a, a), unit 2 (a, b), unit 3 (b, b), unit 4 (tie, both_bad):
    # o = a [2,1,0,0], b [1,2,0,0], tie [0,0,0,1], both_bad [0,0,1,0]; n = 8, disagreement 4,
    # expected (64 - 20) / 7, alpha = 1 - 4 * 7 / 44 = 4 / 11; raw 2 / 4.
    assert report["agreement"]["alpha"] == pytest.approx(4 / 11)
    assert report["agreement"]["raw"] == pytest.approx(0.5)
    assert report["agreement"]["judgments"] == 8
    assert report["totals"]["excluded_labelers"] == [carol.pk]
    rows = {row["username"]: row for row in report["labelers"]}
    assert rows["carol"]["excluded"] is True
    # carol is still measured against the others: unit 1 agrees with (a, a), unit 3 not (b, b).
    assert (rows["carol"]["loo"]["compared"], rows["carol"]["loo"]["agreed"]) == (2, 1)
    # alice: unit 1 agrees with bob's a, unit 2 not, unit 3 now has bob's b alone as the other
    # judgment (carol's tie no longer splits it): agrees; unit 4 not.
    assert (rows["alice"]["loo"]["compared"], rows["alice"]["loo"]["agreed"]) == (4, 2)
    labeler_reinstate(project=project, labeler=carol, by=manager)
    assert quality_report_compute(project=project, n_bootstrap=0)["agreement"]["alpha"] == pytest.approx(
        8 / 35
    )
