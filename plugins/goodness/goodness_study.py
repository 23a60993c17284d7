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
  info_nce_local                 S(h) + 0.1 mean_B(S) (l_ii - logsumexp_j l_ij),     gs-info-nce (3)
                                 l = cosine similarity across the batch / 0.1
  nt_xent_local                  the same code and defaults as info_nce_local        gs-info-nce (3)
  decorrelation_local            S(h) + 0.001 mean_B(S) var_i(h_i)                   gs-decorrelation (3)
  softmax_energy_margin_local    S(h) + 0.1 mean_B(S) (-logsumexp_i(h_i - max h)),   gs-softmax-energy-margin (3)
                                 clamped to [0, 2e5]
  triplet_margin_local           S(h) + 0.1 mean_B(S) tanh(||h - m_other||^2 /      gs-triplet-margin (3)
                                 ||h - m_own||^2), m = mean of the batch's first
                                 (positive) or second (negative) half  (2)
  bcm_local                      S(h) + 0.01 sum h_i^2 (h_i^2 - theta_i), theta =    gs-bcm (4)
                                 EMA of mean_B(h^2) (updated with this batch first)
  predictive_coding_local        S(h) - 0.1 mean_B(S) min(10, ||h - mu||^2 / S(h)),  gs-predictive-coding (3, 4)
                                 mu = EMA of mean_B(h)

  (1) gaussian_energy_local and tempered_energy_local share one implementation, c * S(h) with
      c = 1 at the study's defaults (the only values it ran).
  (2) the modulation factor (entropy, share p, separation) is computed without gradient.
  (3) the training score of a sample depends on the other samples of the batch: implemented with
      ``Goodness.score_batch`` (the batch [pos; neg]); the per-sample inference score ``score(h,
      state)`` reads running estimates of the batch statistics kept in the layer's state, as
      BatchNorm does at eval (the study uses the current batch at evaluation too). Running
      estimates: EMA, momentum 0.9, started at the first batch's value; gs-info-nce keeps the
      last full-size batch's unit rows as its bank; gs-triplet-margin scores every row as a
      positive. See docs/goodness_study.md, "Batch-aware functions".
  (4) has running state (an EMA over batches, from 0, momentum 0.9, updated with the batch
      before scoring, as the study): ``Goodness.init_state`` (a :class:`StudyState` per layer,
      kept in the trained model).

Seven functions are distinct per-sample scores, seven are the plain sum of squares, seven (six
distinct: info_nce = nt_xent, one class, ``gs-info-nce``; the registry has no aliases) need the
batch or running state. All 13 distinct ones are implemented below.

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
from abc import abstractmethod

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


# ---------------------------------------------------------------------------------------
# The six batch- and state-dependent functions (Goodness.score_batch / init_state)
# ---------------------------------------------------------------------------------------

#: momentum of the running estimates that stand in for batch statistics at inference (the
#: study's EMAs, theta of bcm_local and mu of predictive_coding_local, also use 0.9)
RUNNING_MOMENTUM = 0.9
#: the study's clamps: activity, scores, and the clamp of its contrastive / entropy terms
H_CLAMP, G_MAX, TERM_CLAMP, LOGIT_CLAMP = 100.0, 200000.0, 100.0, 88.0
#: rows per chunk of gs-info-nce's inference score (a [chunk, K] similarity matrix at a time)
INFERENCE_CHUNK = 4096


class StudyState(torch.nn.Module):
    """One layer's state of a batch-aware study goodness: float32 buffers, created by the
    goodness's ``init_state`` and kept in the trained model (so saved and loaded with it).

    ``steps``: batches seen; ``mean_s``: running estimate of mean_B(S), the batch mean of the sum
    of squares, for inference (recorded by every class, read by all but gs-bcm); other buffers
    per function (``theta``, ``mu``, ``m_pos``,
    ``m_neg``, ``bank``)."""

    def __init__(self, width: int, *vectors: str, bank: bool = False):
        super().__init__()
        self.register_buffer("steps", torch.zeros(()))
        self.register_buffer("mean_s", torch.zeros(()))
        for name in vectors:
            self.register_buffer(name, torch.zeros(width))
        if bank:
            self.register_buffer("bank", torch.zeros(0, width))

    @torch.no_grad()
    def running_(self, name: str, value: torch.Tensor, momentum: float = RUNNING_MOMENTUM) -> None:
        """EMA of a batch statistic that replaces it at inference: set to the first batch's value,
        then ``momentum * old + (1 - momentum) * value`` (call before :meth:`step_`)."""
        buf, value = getattr(self, name), value.detach().to(torch.float32)
        buf.copy_(torch.where(self.steps == 0, value, buf * momentum + value * (1.0 - momentum)))

    @torch.no_grad()
    def study_ema_(self, name: str, value: torch.Tensor, momentum: float) -> None:
        """The study's EMA (theta, mu): from zero, ``old * momentum + value * (1 - momentum)``."""
        getattr(self, name).mul_(momentum).add_(value.detach().to(torch.float32), alpha=1.0 - momentum)

    @torch.no_grad()
    def step_(self) -> None:
        self.steps += 1


def _stack(h_pos: torch.Tensor, h_neg: torch.Tensor | None) -> torch.Tensor:
    """The study's training batch: positives then negatives, [pos; neg]."""
    return h_pos if h_neg is None else torch.cat([h_pos, h_neg])


def _split(g: torch.Tensor, h_pos: torch.Tensor, h_neg: torch.Tensor | None):
    return (g, None) if h_neg is None else (g[: len(h_pos)], g[len(h_pos) :])


def _finite_or_zero(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x), x, torch.zeros_like(x))


class _BatchStudy(_WidthThreshold):
    """A study goodness whose training score reads the batch [pos; neg] (and may update the
    layer's :class:`StudyState`); inference replaces the batch statistics by their running
    estimates in the state. Subclasses give ``_state(width)``, ``_update(state, h)`` (the
    state's own updates; ``mean_s`` is updated here), and ``_score(h, m, stats)``: the score of
    rows h [R, D] given the batch mean m of S and the other statistics."""

    def init_state(self, layer: int, width: int) -> StudyState:
        return self._state(width)

    def _state(self, width: int) -> StudyState:
        return StudyState(width)

    def _fresh(self, h: torch.Tensor) -> StudyState:
        """A state as an untrained layer has it (what ``state=None`` means)."""
        return self._state(h.shape[-1]).to(h.device)

    def _base(self, h: torch.Tensor) -> torch.Tensor:
        """S(h) per row, as the study's function computes its base."""
        return h.pow(2).sum(dim=-1)

    def _guard(self, m: torch.Tensor) -> torch.Tensor:
        """The study's guard on mean_B(S), applied in training and at inference alike."""
        return m

    def _update(self, state: StudyState, h: torch.Tensor) -> None:
        """The function's own state updates on the batch h [R, D], before scoring (as the study)."""

    def _batch_stats(self, h: torch.Tensor, h_pos: torch.Tensor, state: StudyState) -> dict:
        """Batch statistics other than mean_B(S) for the training score, recorded in ``state``."""
        return {}

    def _running_stats(self, state: StudyState) -> dict:
        """Their running estimates, for inference."""
        return {}

    def score_batch(self, h_pos, h_neg, state=None):
        state = self._fresh(h_pos) if state is None else state
        h = _stack(h_pos, h_neg)
        self._update(state, h)
        base_mean = self._base(h).mean()
        stats = self._batch_stats(h, h_pos, state)
        state.running_("mean_s", base_mean)
        state.step_()
        return _split(self._score(h, self._guard(base_mean), stats), h_pos, h_neg)

    def score(self, h, state=None):
        state = self._fresh(h) if state is None else state
        return self._score(h, self._guard(state.mean_s), self._running_stats(state))

    @abstractmethod
    def _score(self, h: torch.Tensor, m: torch.Tensor, stats: dict) -> torch.Tensor:
        """The study's score of rows h [R, D], given the mean_B(S) factor m and the statistics."""


class InfoNCE(_BatchStudy):
    """info_nce_local (= nt_xent_local, the same code and defaults): G(h) = S + w * mean_B(S) *
    (l_ii - logsumexp_j l_ij), l_ij = cos(h_i, h_j) / T over the batch's rows (the other rows
    detached, as the study's ``detach_negatives``), clamped to [0, 2e5]; h clamped to [-100, 100]
    first; mean_B(S) < 1e-8 counts as 1. Inference: mean_B(S) -> its running estimate, and the
    batch -> a bank of the K normalised rows of the last full-size training batch, the K rows'
    exp-similarities weighted (K - 1) / K so that they stand for the K - 1 batch mates a row had
    in training."""

    name = "gs-info-nce"
    version = "1"
    description = (
        "G(h) = sum h^2 + w * mean_B(S) * InfoNCE term of h among the batch (cosine / T), "
        "(Shah & Tripathi info_nce_local = nt_xent_local), theta = width; inference: running estimates"
    )
    params = (
        _THRESHOLD,
        Param("temperature", float, 0.1, "T of the cosine-similarity logits", min=0.0),
        Param("weight", float, 0.1, "w, weight of the contrastive term (the study's contrastive_weight)", min=0.0),
    )

    def _state(self, width):
        return StudyState(width, bank=True)

    def _base(self, h):
        return _finite_or_zero(h.clamp(-H_CLAMP, H_CLAMP).pow(2).sum(dim=-1)).clamp(0.0, G_MAX)

    def _guard(self, m):
        return torch.where(m < EPS, torch.ones_like(m), m)

    @staticmethod
    def _directions(h: torch.Tensor) -> torch.Tensor:
        h = h.clamp(-H_CLAMP, H_CLAMP)
        return (h / torch.linalg.vector_norm(h, dim=-1, keepdim=True).clamp(min=EPS)).clamp(-10.0, 10.0)

    def _batch_stats(self, h, h_pos, state):
        x = self._directions(h)
        with torch.no_grad():
            if x.shape[0] >= state.bank.shape[0]:  # keep the last full-size batch
                state.bank = x.detach().to(torch.float32).clone()
        return {"sim": x @ x.detach().T, "self": None}

    def _running_stats(self, state):
        return {"bank": state.bank}

    @staticmethod
    def _bank_contrast(x: torch.Tensor, bank: torch.Tensor, t: float) -> torch.Tensor:
        """l_self - logsumexp over [the row itself, the K bank rows weighted (K - 1) / K]."""
        sim = torch.cat([(x * x).sum(dim=-1, keepdim=True), x @ bank.T], dim=1).clamp(-TERM_CLAMP, TERM_CLAMP)
        logits = ((sim - sim.max(dim=1, keepdim=True).values) / t).clamp(-LOGIT_CLAMP, LOGIT_CLAMP)
        k = bank.shape[0]
        if k:
            weight = math.log((k - 1) / k) if k > 1 else -math.inf
            logits = torch.cat([logits[:, :1], logits[:, 1:] + weight], dim=1)
        return logits[:, 0] - torch.logsumexp(logits, dim=1)

    def _score(self, h, m, stats):
        t = max(self.values["temperature"], EPS)
        if "sim" in stats:  # training: the batch's similarity matrix, the diagonal is the row itself
            sim = stats["sim"].clamp(-TERM_CLAMP, TERM_CLAMP)
            logits = ((sim - sim.max(dim=1, keepdim=True).values) / t).clamp(-LOGIT_CLAMP, LOGIT_CLAMP)
            contrast = torch.diagonal(logits) - torch.logsumexp(logits, dim=1)
        else:  # inference: each row against the bank, in chunks of rows (per sample, so exact)
            bank = stats["bank"].to(h.dtype)
            contrast = torch.cat([self._bank_contrast(x, bank, t) for x in self._directions(h).split(INFERENCE_CHUNK)])
        contrast = contrast.clamp(-TERM_CLAMP, TERM_CLAMP)
        return (self._base(h) + self.values["weight"] * m * contrast).clamp(0.0, G_MAX)


class Decorrelation(_BatchStudy):
    """decorrelation_local: G(h) = S + w * mean_B(S) * var_i(h_i) (variance over the row's units,
    biased; despite the name, no decorrelation is computed). Inference: mean_B(S) -> its running
    estimate."""

    name = "gs-decorrelation"
    version = "1"
    description = (
        "G(h) = sum h^2 + w * mean_B(S) * var over units of h (Shah & Tripathi decorrelation_local), "
        "theta = width; inference: running mean_B(S)"
    )
    params = (_THRESHOLD, Param("weight", float, 0.001, "w, weight of the variance term (the study's scale)", min=0.0))

    def _score(self, h, m, stats):
        return self._base(h) + self.values["weight"] * m * h.var(dim=-1, unbiased=False)


class SoftmaxEnergyMargin(_BatchStudy):
    """softmax_energy_margin_local: G(h) = S + w * mean_B(S) * (-logsumexp_i(h_i/T - max h/T)) +
    margin, clamped to [0, 2e5]; S taken as 0 where not finite and clamped to [0, 2e5], h clamped
    to [-100, 100] in the softmax term, the term to [-100, 100]; mean_B(S) < 1e-8 counts as 1.
    Inference: mean_B(S) -> its running estimate."""

    name = "gs-softmax-energy-margin"
    version = "1"
    description = (
        "G(h) = sum h^2 + w * mean_B(S) * (-logsumexp(h/T - max h/T)) + margin "
        "(Shah & Tripathi softmax_energy_margin_local), theta = width; inference: running mean_B(S)"
    )
    params = (
        _THRESHOLD,
        Param("temperature", float, 1.0, "T of the softmax over units", min=0.0),
        Param("margin", float, 0.0, "constant added to the score"),
        Param("weight", float, 0.1, "w, weight of the entropy term (the study's scale)", min=0.0),
    )

    def _base(self, h):
        return _finite_or_zero(h.pow(2).sum(dim=-1)).clamp(0.0, G_MAX)

    def _guard(self, m):
        return torch.where(m < EPS, torch.ones_like(m), m)

    def _score(self, h, m, stats):
        logits = h.clamp(-H_CLAMP, H_CLAMP) / max(self.values["temperature"], EPS)
        logits = (logits - logits.max(dim=-1, keepdim=True).values).clamp(-LOGIT_CLAMP, LOGIT_CLAMP)
        term = (-torch.logsumexp(logits, dim=-1)).clamp(-TERM_CLAMP, TERM_CLAMP)
        return (self._base(h) + self.values["weight"] * m * term + self.values["margin"]).clamp(0.0, G_MAX)


class TripletMargin(_BatchStudy):
    """triplet_margin_local: G(h) = S + w * mean_B(S) * tanh(sep), sep (no gradient) =
    ||h - m_other||^2 / (||h - m_own||^2 + 1e-8), m_pos / m_neg = the means of the batch's
    positive / negative half, own = the half the row is in. (The study's ``margin`` and
    ``normalize`` options feed a function its score never calls: left out.) Inference: mean_B(S),
    m_pos and m_neg -> their running estimates, and every row is scored as a positive
    (own = m_pos): the score of the hypothesis "this label is right"."""

    name = "gs-triplet-margin"
    version = "1"
    description = (
        "G(h) = sum h^2 + w * mean_B(S) * tanh(||h - m_other||^2 / ||h - m_own||^2), m = mean of the "
        "positive / negative half (Shah & Tripathi triplet_margin_local), theta = width; inference: "
        "running means, rows scored as positives"
    )
    params = (_THRESHOLD, Param("weight", float, 0.1, "w, weight of the separation term (triplet_weight)", min=0.0))

    def _state(self, width):
        return StudyState(width, "m_pos", "m_neg")

    def score_batch(self, h_pos, h_neg, state=None):
        if h_neg is None:
            raise ValueError(f"goodness '{self.name}' compares the positive and the negative half: it needs negatives")
        return super().score_batch(h_pos, h_neg, state)

    def _batch_stats(self, h, h_pos, state):
        with torch.no_grad():
            pos, neg = h[: len(h_pos)], h[len(h_pos) :]
            m_pos, m_neg = pos.mean(dim=0), neg.mean(dim=0)
            state.running_("m_pos", m_pos)
            state.running_("m_neg", m_neg)
        return {
            "own": torch.cat([m_pos.expand_as(pos), m_neg.expand_as(neg)]),
            "other": torch.cat([m_neg.expand_as(pos), m_pos.expand_as(neg)]),
        }

    def _running_stats(self, state):
        return {"own": state.m_pos, "other": state.m_neg}

    def _score(self, h, m, stats):
        with torch.no_grad():
            own, other = stats["own"].to(h.dtype), stats["other"].to(h.dtype)
            sep = (h - other).pow(2).sum(dim=-1) / ((h - own).pow(2).sum(dim=-1) + EPS)
        return self._base(h) + self.values["weight"] * m * torch.tanh(sep)


class BCM(_BatchStudy):
    """bcm_local: G(h) = S + w * sum_i h_i^2 (h_i^2 - theta_i), theta = EMA (momentum 0.9, from 0)
    of mean_B(h^2), updated with the batch before scoring (as the study); with the study's clamps
    (h to [-100, 100], h^2 and theta to [0, 1e4], the difference to +-1e4, each unit's term and
    the sum to +-1e5, G to [0, 2e5]). Per sample given theta: inference reads the trained theta."""

    name = "gs-bcm"
    version = "1"
    description = (
        "G(h) = sum h^2 + w * sum h^2 (h^2 - theta), theta = EMA of the batch mean of h^2 "
        "(Shah & Tripathi bcm_local), theta = width"
    )
    params = (
        _THRESHOLD,
        Param("weight", float, 0.01, "w, weight of the BCM term (the study's scale)", min=0.0),
        Param("momentum", float, 0.9, "momentum of theta's EMA (the study's mean_momentum)", min=0.0, max=1.0),
    )

    def _state(self, width):
        return StudyState(width, "theta")

    def _base(self, h):
        return _finite_or_zero(h.clamp(-H_CLAMP, H_CLAMP).pow(2).sum(dim=-1)).clamp(0.0, G_MAX)

    def _update(self, state, h):
        state.study_ema_("theta", (h * h).mean(dim=0), self.values["momentum"])

    def _running_stats(self, state):
        return {"theta": state.theta}

    def _batch_stats(self, h, h_pos, state):
        return {"theta": state.theta}  # already updated with this batch

    def _score(self, h, m, stats):
        h2 = h.clamp(-H_CLAMP, H_CLAMP).pow(2).clamp(0.0, 1e4)
        diff = (h2 - stats["theta"].to(h.dtype).clamp(0.0, 1e4)).clamp(-1e4, 1e4)
        per_unit = _finite_or_zero(h2 * diff).clamp(-1e5, 1e5)
        term = per_unit.sum(dim=-1).clamp(-1e5, 1e5)
        return (self._base(h) + self.values["weight"] * term).clamp(0.0, G_MAX)


class PredictiveCoding(_BatchStudy):
    """predictive_coding_local: G(h) = S - w * max(mean_B(S), 1e-8) * min(10, ||h - mu||^2 /
    max(S, 1e-8)), mu = EMA (momentum 0.9, from 0) of mean_B(h), updated with the batch before
    scoring (as the study). Inference: mean_B(S) -> its running estimate, mu the trained one."""

    name = "gs-predictive-coding"
    version = "1"
    description = (
        "G(h) = sum h^2 - w * mean_B(S) * min(10, ||h - mu||^2 / S), mu = EMA of the batch mean "
        "(Shah & Tripathi predictive_coding_local), theta = width; inference: running mean_B(S)"
    )
    params = (
        _THRESHOLD,
        Param("weight", float, 0.1, "w, weight of the prediction-error term (prediction_weight)", min=0.0),
        Param("momentum", float, 0.9, "momentum of mu's EMA (the study's prediction_momentum)", min=0.0, max=1.0),
    )

    def _state(self, width):
        return StudyState(width, "mu")

    def _guard(self, m):
        return m.clamp(min=EPS)

    def _update(self, state, h):
        state.study_ema_("mu", h.mean(dim=0), self.values["momentum"])

    def _running_stats(self, state):
        return {"mu": state.mu}

    def _batch_stats(self, h, h_pos, state):
        return {"mu": state.mu}  # already updated with this batch

    def _score(self, h, m, stats):
        base = self._base(h)
        error = (h - stats["mu"].to(h.dtype)).pow(2).sum(dim=-1)
        g = base - self.values["weight"] * m * (error / base.clamp(min=EPS)).clamp(max=10.0)
        return torch.where(torch.isfinite(g), g, base)


#: the 7 per-sample functions
STUDY_GOODNESS = (SparseL1, HuberNorm, Oja, OutlierTrimmed, AttentionWeighted, GameTheoretic, FractalDimension)
#: the 6 batch- or state-dependent functions (Goodness.score_batch / init_state)
STUDY_BATCH_GOODNESS = (InfoNCE, Decorrelation, SoftmaxEnergyMargin, TripletMargin, BCM, PredictiveCoding)


@ffbench.hookimpl
def ffbench_register_goodness(register):
    for cls in STUDY_GOODNESS + STUDY_BATCH_GOODNESS:
        register(cls)
