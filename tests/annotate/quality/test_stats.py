from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from annotate.quality.stats import binom_test_half, wilson


@pytest.mark.parametrize("n", [1, 2, 7, 20, 33, 100, 997, 5000])
def test_it_equals_scipy_binomtest_and_its_wilson_interval(n):
    k = np.unique(np.linspace(0, n, 25).astype(int))
    p = binom_test_half(k, np.full_like(k, n))
    lo, hi = wilson(k, np.full_like(k, n))
    for i, ki in enumerate(k.tolist()):
        test = binomtest(ki, n, 0.5)
        ci = test.proportion_ci(method="wilson")
        assert p[i] == pytest.approx(test.pvalue, rel=1e-9, abs=1e-300)
        assert (lo[i], hi[i]) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_it_gives_nothing_for_no_trials():
    assert np.isnan(binom_test_half(np.array([0]), np.array([0]))[0])
    lo, hi = wilson(np.array([0]), np.array([0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
