"""Whether the seeds separate two configurations: the one test behind every rank and every
"separated / not separated" verdict (leaderboards/SCHEMA.md, "Ranks").

- **Paired t-test** on the per-seed differences when the two configurations were run on the same
  data (same dataset id, version and content hash) and share at least :data:`MIN_SEEDS` seeds with
  a value on both sides: seed s fixes the generator of both runs, so their outcomes are paired
  (common random numbers) and the pairing removes the seed-to-seed variation they share.
- **Welch's t-test** (unequal variances) otherwise, on all seeds of each side.
- Two-sided, level :data:`ALPHA` per pair, no correction for the number of pairs. Fewer than
  :data:`MIN_SEEDS` values on either side: not tested (the configuration is *preliminary*).

The Student t distribution is computed here (regularised incomplete beta function by its continued
fraction) so that ffbench needs no statistics package; tests/test_separation.py checks it against
tabulated quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

#: Two-sided level of every separation test, per pair.
ALPHA = 0.05
#: Seeds a configuration needs (with a value) to be ranked; with fewer it is preliminary.
MIN_SEEDS = 3

PAIRED = "paired t"
WELCH = "Welch t"


@dataclass(frozen=True)
class Separation:
    """The outcome of comparing configuration a with configuration b on one value."""

    #: :data:`PAIRED`, :data:`WELCH`, or "" when not tested (``reason`` says why).
    test: str
    #: Seeds used: the shared seeds (paired) or the values of each side (Welch).
    n_a: int
    n_b: int
    #: Mean of a minus mean of b (paired: the mean of the per-seed differences).
    difference: float
    #: Standard error of ``difference``; degrees of freedom; two-sided p.
    se: float = math.nan
    df: float = math.nan
    p: float = math.nan
    #: The smallest difference this test separates at the observed spread: t_{1-alpha/2, df} x se.
    smallest: float = math.nan
    #: +1: a is separated above b; -1: b above a; 0: not separated (or not tested).
    sign: int = 0
    reason: str = ""

    @property
    def separated(self) -> bool:
        return self.sign != 0


def _values(side: Mapping) -> dict:
    out = {}
    for seed, value in side.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(v):
            out[seed] = v
    return out


def _mean_var(xs: list[float]) -> tuple[float, float]:
    m = math.fsum(xs) / len(xs)
    return m, math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def compare(
    a: Mapping, b: Mapping, *, same_data: bool = True, alpha: float = ALPHA, min_seeds: int = MIN_SEEDS
) -> Separation:
    """Compare the per-seed values ``a`` and ``b`` (seed -> value; missing and non-finite values are
    dropped). ``same_data``: both were run on the same dataset identity, so shared seeds pair."""
    a, b = _values(a), _values(b)
    if not a or not b:
        return Separation("", len(a), len(b), math.nan, reason="no value on one side")
    mean_a, mean_b = math.fsum(a.values()) / len(a), math.fsum(b.values()) / len(b)
    if len(a) < min_seeds or len(b) < min_seeds:
        return Separation("", len(a), len(b), mean_a - mean_b, reason=f"fewer than {min_seeds} seeds")
    shared = sorted(set(a) & set(b), key=str)
    scale = max(1.0, abs(mean_a), abs(mean_b))
    if same_data and len(shared) >= min_seeds:
        d, var = _mean_var([a[s] - b[s] for s in shared])
        n = len(shared)
        return _decide(PAIRED, n, n, d, math.sqrt(var / n), n - 1, alpha, scale)
    (ma, va), (mb, vb) = _mean_var(list(a.values())), _mean_var(list(b.values()))
    qa, qb = va / len(a), vb / len(b)
    se = math.sqrt(qa + qb)
    if qa + qb > 0:
        df = (qa + qb) ** 2 / (qa**2 / (len(a) - 1) + qb**2 / (len(b) - 1))
    else:
        df = len(a) + len(b) - 2.0
    return _decide(WELCH, len(a), len(b), ma - mb, se, df, alpha, scale)


def _decide(test: str, n_a: int, n_b: int, diff: float, se: float, df: float, alpha: float, scale: float) -> Separation:
    crit = t_quantile(1 - alpha / 2, df)
    if se <= 1e-12 * scale:  # no spread at all: any difference is systematic
        sign = 0 if abs(diff) <= 1e-12 * scale else (1 if diff > 0 else -1)
        return Separation(test, n_a, n_b, diff, 0.0, df, 0.0 if sign else 1.0, 0.0, sign)
    t = diff / se
    p = t_two_sided_p(t, df)
    sign = (1 if diff > 0 else -1) if p < alpha else 0
    return Separation(test, n_a, n_b, diff, se, df, p, crit * se, sign)


# -- Student's t ------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom (df may be fractional)."""
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


@lru_cache(maxsize=4096)
def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile (0.5 < q < 1) of Student's t with ``df`` degrees of freedom, by bisection."""
    if not 0.5 < q < 1.0 or not df > 0:
        raise ValueError(f"t_quantile needs 0.5 < q < 1 and df > 0 (got q={q}, df={df})")
    target = 2.0 * (1.0 - q)  # the two-sided p at the quantile
    lo, hi = 0.0, 1.0
    while t_two_sided_p(hi, df) > target:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_two_sided_p(mid, df) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return (lo + hi) / 2.0


def expected_false_separations(pairs: int, alpha: float = ALPHA) -> float:
    """How many of ``pairs`` per-pair tests separate by chance alone when no pair truly differs."""
    return alpha * pairs


# -- ranks ------------------------------------------------------------------------------------


@dataclass
class Ranking:
    """Ranks of several configurations on one value by :func:`compare` over every pair."""

    #: Rank of every configuration with at least ``MIN_SEEDS`` values: 1 + the number of
    #: configurations separated above it (better in the value's direction); ties share a rank.
    ranks: dict
    #: Configurations with fewer values: listed, not ranked.
    preliminary: list
    #: Every pair (a, b) of ranked configurations, a before b in the input order.
    pairs: dict

    def better(self, a, b) -> int:
        """+1 when the seeds separate a as better than b, -1 when b is better, 0 when not separated."""
        if (a, b) in self.pairs:
            return self.pairs[(a, b)][1]
        if (b, a) in self.pairs:
            return -self.pairs[(b, a)][1]
        return 0

    def tied_with(self, key) -> list:
        """``key`` and every ranked configuration the seeds do not separate from it."""
        return [k for k in self.ranks if k == key or self.better(key, k) == 0]

    def smallest(self) -> list[float]:
        """The smallest separable difference of every pair that had a spread to test."""
        return [s.smallest for s, _ in self.pairs.values() if s.test and s.smallest > 0]

    def tests(self) -> list[str]:
        """The tests used, in a stable order."""
        return sorted({s.test for s, _ in self.pairs.values() if s.test})


def rank_configurations(
    values: Mapping, higher_is_better: bool, data: Mapping | None = None, alpha: float = ALPHA
) -> Ranking:
    """Rank configurations (``values``: key -> {seed: value}) on one value whose direction is
    ``higher_is_better``; ``data``: key -> dataset identity (shared seeds pair only where it is equal;
    default: one dataset for all)."""
    counts = {k: len(_values(v)) for k, v in values.items()}
    ranked = [k for k in values if counts[k] >= MIN_SEEDS]
    preliminary = [k for k in values if counts[k] < MIN_SEEDS]
    pairs = {}
    for i, a in enumerate(ranked):
        for b in ranked[i + 1 :]:
            same = data is None or data.get(a) == data.get(b)
            s = compare(values[a], values[b], same_data=same, alpha=alpha)
            pairs[(a, b)] = (s, s.sign if higher_is_better else -s.sign)
    result = Ranking({}, preliminary, pairs)
    result.ranks = {k: 1 + sum(result.better(j, k) == 1 for j in ranked if j != k) for k in ranked}
    return result
