"""Goodness functions of "In Search of Goodness" (Shah & Tripathi, arXiv 2511.18567).

Reference code: github.com/aryashah2k/In-Search-of-Goodness (goodness/*.py, goodness/registry.py,
src/ff_model.py, config.yaml). Written here from the formulas; no code is taken from it.

The study registers 21 goodness functions. As scores G(h) of one layer's post-ReLU activity
h [N, D] (S(h) = sum_i h_i^2, the plain sum of squares; H(p) = -sum_i p_i log p_i; mean_B = the
mean over the whole batch, which in the study is the positives and negatives together):

  published name                 function (as the reference code computes it)     -> ffbench name
  -----------------------------  ------------------------------------------------    ---------------------
  sum_of_squares                 S(h)                                                alias of sumsq
  hebbian_local                  S(h) (an EMA of the batch mean is kept, unused)     alias of sumsq
  l2_normalized_energy_local     S(h) (no normalisation applied)                     alias of sumsq
  pca_energy_local               S(h) (no PCA applied)                               alias of sumsq
  whitened_energy_local          S(h) (no whitening applied)                         alias of sumsq
  gaussian_energy_local          S(h) / sigma2, sigma2 = 1                           alias of sumsq (1)
  tempered_energy_local          S(h) / tau, tau = 1                                 alias of sumsq (1)
  sparse_l1_local                S(h) - 0.01 sum |h_i|                               gs-sparse-l1
  huber_norm_local               S(h) - 0.01 sum huber_1(h_i)                        gs-huber-norm
  oja_local                      S(h) - 1e-4 sum h_i^4                               gs-oja
  outlier_trimmed_energy_local   S(h) without the k smallest / k largest h_i^2,      gs-outlier-trimmed
                                 k = round(0.1 D)
  attention_weighted_local       S(h) (1 + 0.01 H(softmax(|h|)) / log D)  (2)        gs-attention-weighted
  game_theoretic_local           sum h_i^2 (1 + 0.1 p_i), p = |h| / sum |h|  (2)     gs-game-theoretic
  fractal_dimension_local        S(h) (1 + 0.1 H(|h| / sum |h|) / log D)  (2)        gs-fractal-dimension
  info_nce_local                 S(h) + 0.1 mean_B(S) (l_ii - logsumexp_j l_ij),     not implemented (3)
                                 l = cosine similarity across the batch / 0.1
  nt_xent_local                  the same code and defaults as info_nce_local        not implemented (3)
  decorrelation_local            S(h) + 0.001 mean_B(S) var_i(h_i)                   not implemented (3)
  softmax_energy_margin_local    S(h) + 0.1 mean_B(S) (-logsumexp_i(h_i - max h)),   not implemented (3)
                                 clamped to [0, 2e5]
  triplet_margin_local           S(h) + 0.1 mean_B(S) tanh(||h - m_other||^2 /      not implemented (3)
                                 ||h - m_own||^2), m = mean of the batch's first
                                 (positive) or second (negative) half  (2)
  bcm_local                      S(h) + 0.01 sum h_i^2 (h_i^2 - theta_i), theta =    not implemented (3, 4)
                                 EMA of mean_B(h^2) (updated with this batch first)
  predictive_coding_local        S(h) - 0.1 mean_B(S) min(10, ||h - mu||^2 / S(h)),  not implemented (3, 4)
                                 mu = EMA of mean_B(h)

  (1) gaussian_energy_local and tempered_energy_local share one implementation, c * S(h) with
      c = 1 at the study's defaults (the only values it ran).
  (2) the modulation factor (entropy, share p, separation) is computed without gradient.
  (3) needs the batch-aware goodness capability (issue 17 item 2): the score of a sample depends
      on the other samples of the batch, which the per-sample ``score(h) -> [N]`` contract forbids.
  (4) also has running state (an EMA over batches) that the contract has no place for.

Seven functions are distinct per-sample scores and are implemented below, seven are the plain
sum of squares, seven (six distinct: info_nce = nt_xent) need the batch or running state.

Study defaults (config.yaml; no goodness parameters were ever overridden, so every function ran
with the defaults of its dataclass, which are the defaults below): threshold theta = the layer's
width (2000) for every goodness function, loss BCE-with-logits(G - theta) on [pos; neg] (the FF
logistic loss); 4 fully connected layers of 2000 units, ReLU with a straight-through gradient,
each layer's input divided by its RMS; peer normalisation 0.03 (momentum 0.9); SGD lr 1e-3,
momentum 0.9, weight decay 3e-4, linear cool-down over the second half; 20 epochs; batch 100;
seed 42; one run per (dataset, goodness). See docs/goodness_study.md for the caveats.

Every class here: threshold = the layer width unless ``threshold`` is set (as in the study).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import ffbench
from ffbench.component import Param
from ffbench.contracts import Goodness

#: the study's epsilon of the entropy and normalisation terms
EPS = 1e-8

_THRESHOLD = Param("threshold", float, None, "theta of the FF loss; auto = the layer's width (the study's)")


class _WidthThreshold(Goodness):
    """Shared by the study's goodness functions: theta = the layer width unless set."""

    def threshold_for(self, width: int) -> float:
        theta = self.values["threshold"]
        return float(width) if theta is None else float(theta)


def _normalised_entropy(p: torch.Tensor) -> torch.Tensor:
    """H(p) / log D per row of p [N, D] (the study's form, with its epsilons)."""
    entropy = -(p * torch.log(p + EPS)).sum(dim=-1)
    return entropy / (math.log(p.shape[-1]) + EPS)


class SparseL1(_WidthThreshold):
    """sparse_l1_local: G(h) = sum h^2 - lam * sum |h| (an L1 sparsity penalty)."""

    name = "gs-sparse-l1"
    version = "1"
    description = "G(h) = sum h^2 - lam * sum |h| (Shah & Tripathi sparse_l1_local), theta = width"
    params = (_THRESHOLD, Param("lam", float, 0.01, "weight of the L1 penalty", min=0.0))

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return h.pow(2).sum(dim=-1) - self.values["lam"] * h.abs().sum(dim=-1)


class HuberNorm(_WidthThreshold):
    """huber_norm_local: G(h) = sum h^2 - weight * sum huber_delta(h_i), where
    huber_delta(x) = x^2 / 2 if |x| <= delta else delta * (|x| - delta / 2).
    The study writes weight as 0.01 * scale (scale = 1): weight = 0.01."""

    name = "gs-huber-norm"
    version = "1"
    description = "G(h) = sum h^2 - weight * sum huber_delta(h) (Shah & Tripathi huber_norm_local), theta = width"
    params = (
        _THRESHOLD,
        Param("delta", float, 1.0, "where the Huber penalty turns from quadratic to linear", min=0.0),
        Param("weight", float, 0.01, "weight of the Huber penalty (the study's 0.01 * scale)", min=0.0),
    )

    def score(self, h: torch.Tensor) -> torch.Tensor:
        delta, a = self.values["delta"], h.abs()
        huber = torch.where(a <= delta, 0.5 * h * h, delta * (a - 0.5 * delta))
        return h.pow(2).sum(dim=-1) - self.values["weight"] * huber.sum(dim=-1)


class Oja(_WidthThreshold):
    """oja_local: G(h) = sum h^2 - alpha * sum h^4 (a quartic stabiliser).
    The study's unused option ``center`` (subtract D) is left out."""

    name = "gs-oja"
    version = "1"
    description = "G(h) = sum h^2 - alpha * sum h^4 (Shah & Tripathi oja_local), theta = width"
    params = (_THRESHOLD, Param("alpha", float, 1e-4, "weight of the quartic term", min=0.0))

    def score(self, h: torch.Tensor) -> torch.Tensor:
        h2 = h.pow(2)
        return h2.sum(dim=-1) - self.values["alpha"] * h2.pow(2).sum(dim=-1)


class OutlierTrimmed(_WidthThreshold):
    """outlier_trimmed_energy_local: sort each sample's h_i^2, drop the k smallest and the k
    largest, sum the rest; k = round(trim_frac * D) capped at D // 2 (Python rounding)."""

    name = "gs-outlier-trimmed"
    version = "1"
    description = (
        "G(h) = sum of h^2 without the k smallest and k largest, k = round(trim_frac * D) "
        "(Shah & Tripathi outlier_trimmed_energy_local), theta = width"
    )
    params = (_THRESHOLD, Param("trim_frac", float, 0.1, "fraction of units dropped at each end", min=0.0, max=0.5))

    def score(self, h: torch.Tensor) -> torch.Tensor:
        width = h.shape[-1]
        k = max(0, min(width // 2, round(self.values["trim_frac"] * width)))
        h2 = torch.sort(h.pow(2), dim=-1).values
        return h2[..., k : width - k].sum(dim=-1)


class AttentionWeighted(_WidthThreshold):
    """attention_weighted_local: G(h) = S * (1 + w * H(softmax(|h| / T)) / log D), S = sum h^2.
    As in the study the entropy factor carries no gradient (only S is differentiated)."""

    name = "gs-attention-weighted"
    version = "1"
    description = (
        "G(h) = sum h^2 * (1 + w * H(softmax(|h|/T)) / log D), entropy detached "
        "(Shah & Tripathi attention_weighted_local), theta = width"
    )
    params = (
        _THRESHOLD,
        Param("weight", float, 0.01, "w, weight of the entropy modulation", min=0.0),
        Param("temperature", float, 1.0, "T of the softmax over units", min=0.0),
    )

    def score(self, h: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            p = F.softmax(h.abs() / max(self.values["temperature"], EPS), dim=-1)
            spread = _normalised_entropy(p)
        return h.pow(2).sum(dim=-1) * (1 + self.values["weight"] * spread)


class GameTheoretic(_WidthThreshold):
    """game_theoretic_local: G(h) = sum h_i^2 * (1 + w * p_i), p_i = |h_i| / sum |h|
    (each unit's share of the L1 mass). As in the study, p carries no gradient."""

    name = "gs-game-theoretic"
    version = "1"
    description = (
        "G(h) = sum h_i^2 (1 + w p_i), p = |h| / sum |h| detached (Shah & Tripathi game_theoretic_local), theta = width"
    )
    params = (_THRESHOLD, Param("weight", float, 0.1, "w, weight of the importance term", min=0.0))

    def score(self, h: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            a = h.abs()
            share = a / (a.sum(dim=-1, keepdim=True) + EPS)
        return (h.pow(2) * (1 + self.values["weight"] * share)).sum(dim=-1)


class FractalDimension(_WidthThreshold):
    """fractal_dimension_local: G(h) = S * (1 + w * H(p) / log D), p = |h| / sum |h|,
    S = sum h^2. As in the study the entropy factor carries no gradient."""

    name = "gs-fractal-dimension"
    version = "1"
    description = (
        "G(h) = sum h^2 * (1 + w * H(|h| / sum|h|) / log D), entropy detached "
        "(Shah & Tripathi fractal_dimension_local), theta = width"
    )
    params = (_THRESHOLD, Param("weight", float, 0.1, "w, weight of the complexity term", min=0.0))

    def score(self, h: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            a = h.abs()
            spread = _normalised_entropy(a / (a.sum(dim=-1, keepdim=True) + EPS))
        return h.pow(2).sum(dim=-1) * (1 + self.values["weight"] * spread)


STUDY_GOODNESS = (SparseL1, HuberNorm, Oja, OutlierTrimmed, AttentionWeighted, GameTheoretic, FractalDimension)


@ffbench.hookimpl
def ffbench_register_goodness(register):
    for cls in STUDY_GOODNESS:
        register(cls)
