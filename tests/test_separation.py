"""The separation test behind every rank: Student's t against tabulated values, the paired and
Welch cases on hand-computable seeds, and ranks as 1 + the configurations separated above."""

from __future__ import annotations

import math

import pytest

from ffbench.leaderboard.separation import (
    PAIRED,
    WELCH,
    compare,
    expected_false_separations,
    rank_configurations,
    t_quantile,
    t_two_sided_p,
)


@pytest.mark.parametrize(
    ("df", "quantile"),
    # t(0.975, df) from any statistics table
    [(1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (5, 2.5706), (9, 2.2622), (30, 2.0423)],
)
def test_t_quantiles_match_the_tables(df, quantile):
    assert t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-4)
    assert t_two_sided_p(quantile, df) == pytest.approx(0.05, abs=1e-5)


def test_t_p_values_in_closed_form():
    # df = 1 is the Cauchy distribution: P(|T| >= t) = 1 - 2 atan(t) / pi
    for t in (0.5, 1.0, 3.0):
        assert t_two_sided_p(t, 1) == pytest.approx(1 - 2 * math.atan(t) / math.pi, rel=1e-9)
    # df = 2: P(|T| >= t) = 1 - t / sqrt(2 + t^2)
    for t in (0.5, 2.0, 10.0):
        assert t_two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-9)
    assert t_two_sided_p(0.0, 5) == pytest.approx(1.0)


def test_paired_test_uses_the_per_seed_differences():
    a = {0: 0.80, 1: 0.82, 2: 0.84}
    b = {0: 0.70, 1: 0.71, 2: 0.75}  # differences 0.10, 0.11, 0.09
    s = compare(a, b)
    assert s.test == PAIRED and (s.n_a, s.n_b) == (3, 3) and s.df == 2
    assert s.difference == pytest.approx(0.10) and s.se == pytest.approx(0.01 / math.sqrt(3))
    assert s.p == pytest.approx(1 - 17.3205 / math.sqrt(2 + 17.3205**2), rel=1e-3)
    assert s.sign == 1 and s.separated
    assert s.smallest == pytest.approx(4.3027 * 0.01 / math.sqrt(3), rel=1e-4)
    assert compare(b, a).sign == -1


def test_every_seed_above_is_not_enough_when_the_differences_spread():
    # differences 0.10, 0.06, 0.03: t = 3.12 on 2 df, p = 0.089
    s = compare({0: 0.80, 1: 0.81, 2: 0.82}, {0: 0.70, 1: 0.75, 2: 0.79})
    assert s.test == PAIRED and s.p == pytest.approx(0.089, abs=0.001) and s.sign == 0


def test_welch_where_the_data_differ_or_the_seeds_are_not_shared():
    a, b = {0: 1.0, 1: 2.0, 2: 3.0}, {0: 5.0, 1: 6.0, 2: 9.0}
    s = compare(a, b, same_data=False)
    # variances 1 and 13/3: se^2 = 1/3 + 13/9 = 16/9; df = (16/9)^2 / ((1/3)^2/2 + (13/9)^2/2)
    assert s.test == WELCH and s.se == pytest.approx(4 / 3)
    assert s.df == pytest.approx((16 / 9) ** 2 / ((1 / 3) ** 2 / 2 + (13 / 9) ** 2 / 2))
    assert s.difference == pytest.approx(2.0 - 20 / 3)  # t = -(14/3) / (4/3) = -3.5
    assert s.p == pytest.approx(t_two_sided_p(3.5, s.df)) and s.sign == -1
    disjoint = compare({0: 1.0, 1: 2.0, 2: 3.0}, {5: 5.0, 6: 6.0, 7: 9.0})  # no shared seed
    assert disjoint.test == WELCH and disjoint.p == pytest.approx(s.p)


def test_too_few_seeds_or_no_spread():
    assert compare({0: 1.0, 1: 2.0}, {0: 0.0, 1: 0.1, 2: 0.2}).test == ""
    assert compare({0: 1.0, 1: float("nan"), 2: 3.0}, {0: 0.0, 1: 0.1, 2: 0.2}).reason == "fewer than 3 seeds"
    same = compare({0: 0.5, 1: 0.6, 2: 0.7}, {0: 0.5, 1: 0.6, 2: 0.7})
    assert same.sign == 0 and same.p == 1.0
    shifted = compare({0: 0.6, 1: 0.7, 2: 0.8}, {0: 0.5, 1: 0.6, 2: 0.7})  # the same +0.1 at every seed
    assert shifted.sign == 1 and shifted.smallest == 0.0


def test_ranks_are_one_plus_the_separated_above_and_ties_share():
    values = {
        "a": {0: 0.90, 1: 0.91, 2: 0.92},
        "b": {0: 0.60, 1: 0.62, 2: 0.61},
        "c": {0: 0.61, 1: 0.60, 2: 0.62},  # not separated from b
        "d": {0: 0.30, 1: 0.31, 2: 0.29},
        "e": {0: 0.99, 1: 0.98},  # two seeds: preliminary
    }
    up = rank_configurations(values, higher_is_better=True)
    assert up.ranks == {"a": 1, "b": 2, "c": 2, "d": 4} and up.preliminary == ["e"]
    assert sorted(up.tied_with("b")) == ["b", "c"] and up.tied_with("a") == ["a"]
    assert len(up.pairs) == 6 and up.tests() == [PAIRED]
    down = rank_configurations(values, higher_is_better=False)
    assert down.ranks == {"a": 4, "b": 2, "c": 2, "d": 1}
    # other data: the shared seeds do not pair
    apart = rank_configurations(values, True, data={"a": "x", "b": "y", "c": "y", "d": "y", "e": "y"})
    assert apart.pairs[("a", "b")][0].test == WELCH and apart.pairs[("b", "c")][0].test == PAIRED


def test_a_noisy_configuration_ties_with_its_neighbours():
    values = {
        "steady-high": {0: 0.90, 1: 0.91, 2: 0.90},
        "noisy": {0: 0.95, 1: 0.60, 2: 0.80},
        "steady-low": {0: 0.70, 1: 0.70, 2: 0.71},
    }
    r = rank_configurations(values, True)
    assert r.ranks == {"steady-high": 1, "noisy": 1, "steady-low": 2}


def test_expected_false_separations():
    assert expected_false_separations(91) == pytest.approx(4.55)
    assert expected_false_separations(28, alpha=0.1) == pytest.approx(2.8)
