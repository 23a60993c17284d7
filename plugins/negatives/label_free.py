"""Label-free negative samples of "Beyond Backpropagation: A Systematic Study of the Forward-Forward
Algorithm" (github.com/koriyoshi2041/ff-negative-samples; its earlier strategy library
``negative_strategies/``, issue 17): negatives that carry **no label**, for label-free FF
(``ff[label=none]``: the positives are the raw images, the model is read by a linear readout).

Written here from the study's definitions (``ff-a100-package/negative_strategies/image_mixing.py``
and ``random_noise.py``, commit ``5003b2a6``; ``negative_strategies/masking.py``, commit
``1ecd3ca9``); no code is taken from it. With x_i an image (normalised), y_i its label and pi a
uniformly random permutation of the rows given (the whole training set, as the study's
``complete_strategy_comparison.py`` generates them once on ``x_train``; a row may be its own
partner), the negative of sample i is:

  study                      ffbench                negative of sample i
  -------------------------  ---------------------  -----------------------------------------------
  image_mixing               ns-image-mix           a x_i + (1 - a) x_pi(i), a ~ U(0.3, 0.7) per
                                                    sample (``mode=interpolate``); or each pixel
                                                    from x_i or x_pi(i) with probability 1/2
                                                    (``mode=mask``)
  class_aware_mixing         ns-class-aware-mix     the same with a partner of another class: the
                                                    partners of the samples whose partner has their
                                                    class are re-drawn, up to 5 times
  random_noise               ns-random-noise        N(0, 1) per pixel (``gaussian``), U(0, 1)
                                                    (``uniform``), or N(m_j, s_j) with the per-pixel
                                                    mean and std of the rows given (``matched``)
  masking (random, zero)     ns-mask                x_i with each pixel set to 0 with probability
                                                    0.5 (0 in normalised units: the mean intensity)

Every generator declares ``label_free = True`` and returns ``(x_neg, None)``: the ``ff`` rule
trains them only with ``label=none``, and rules that embed labels refuse them. All randomness comes
from the ``generator`` argument, drawn in the order written above (partner, then the weights or
mask). ``resample`` (default false: drawn once before training, as in the study) draws afresh
every epoch. Any input shape works ([N, D] flattened, or [N, C, H, W]); pixels are the values of
each row.

Also here, the study's model-aware ``fast_adversarial`` as a labelled hard negative:
``ns-fgsm`` (:class:`FGSMNegatives`, ``NegativeGenerator.needs_model``).
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import NegativeGenerator
from ffbench_plugins.negatives.wrong_label import draw_wrong_labels

#: the study's mixing range (``alpha_range`` = (0.3, 0.7)) and class-aware re-draws (``max_attempts``)
ALPHA_RANGE = (0.3, 0.7)
REDRAWS = 5
#: the study's ``matched`` noise adds 1e-8 to the per-pixel std (``torch.std``: unbiased, N - 1)
MATCHED_EPS = 1e-8

_RESAMPLE = Param(
    "resample", bool, False, "draw new negatives every epoch instead of once (the study: once, before training)"
)
_MODE = Param(
    "mode",
    str,
    "interpolate",
    "interpolate: a x_i + (1 - a) x_partner, a ~ U(0.3, 0.7) per sample; mask: every pixel from x_i "
    "or from the partner with probability 1/2",
    choices=("interpolate", "mask"),
)


def mix(x: torch.Tensor, partner: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Mix every row of ``x`` with ``x[partner]``: ``interpolate`` a x + (1 - a) x[partner] with
    a ~ U(0.3, 0.7) per row; ``mask``: each value from x where U(0, 1) > 0.5, else from the partner."""
    other = x[partner]
    if mode == "mask":
        take = torch.rand(x.shape, generator=generator, device=x.device) > 0.5
        return torch.where(take, x, other)
    low, high = ALPHA_RANGE
    a = torch.rand(len(x), generator=generator, device=x.device, dtype=x.dtype) * (high - low) + low
    a = a.view(-1, *([1] * (x.dim() - 1)))
    return a * x + (1.0 - a) * other


def other_class_partners(y: torch.Tensor, generator: torch.Generator, redraws: int = REDRAWS) -> torch.Tensor:
    """The study's class-aware partners: pi a uniformly random permutation; then, up to ``redraws``
    times, the k samples whose partner has their own class get the first k indices of a fresh
    permutation as partners (in order). Samples still paired with their own class after that keep
    such a partner (the study mixes them anyway)."""
    n = len(y)
    partner = torch.randperm(n, generator=generator, device=y.device)
    same = y[partner] == y
    for _ in range(redraws):
        k = int(same.sum())
        if k == 0:
            break
        partner[same] = torch.randperm(n, generator=generator, device=y.device)[:k]
        same = y[partner] == y
    return partner


class ImageMixNegatives(NegativeGenerator):
    """The study's ``image_mixing`` (Hinton's unsupervised negatives): each image mixed with a
    random other (pi, any class), label-free."""

    name = "ns-image-mix"
    version = "1"
    description = "label-free: each image mixed with a random partner, a ~ U(0.3, 0.7) (study: image_mixing)"
    label_free = True
    params = (_RESAMPLE, _MODE)

    def generate(self, x, y, *, allowed, generator, scores=None):
        partner = torch.randperm(len(x), generator=generator, device=x.device)
        return mix(x, partner, self.values["mode"], generator), None


class ClassAwareMixNegatives(NegativeGenerator):
    """The study's ``class_aware_mixing``: as ``ns-image-mix`` with a partner of another class
    (:func:`other_class_partners`: re-drawn up to ``redraws`` = 5 times). Reads y to pick the
    partner; the negative carries no label. The study's class-aware code always interpolates
    (its ``mixing_mode`` is ignored): ``mode`` defaults to interpolate."""

    name = "ns-class-aware-mix"
    version = "1"
    description = "label-free: each image mixed with a partner of another class (study: class_aware_mixing)"
    label_free = True
    params = (
        _RESAMPLE,
        _MODE,
        Param(
            "redraws",
            int,
            REDRAWS,
            "how many times partners of the same class are re-drawn (the study: 5)",
            min=0,
        ),
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        partner = other_class_partners(y, generator, self.values["redraws"])
        return mix(x, partner, self.values["mode"], generator), None


class RandomNoiseNegatives(NegativeGenerator):
    """The study's ``random_noise``: pure noise of the images' shape, label-free. ``gaussian``
    N(0, 1) and ``uniform`` U(0, 1) at the study's defaults (noise_mean 0, noise_std 1,
    noise_low 0, noise_high 1); ``matched``: N(m_j, s_j) per pixel j, m and s the mean and the
    unbiased std (+ 1e-8) of pixel j over the rows given (the whole training set). The study's
    default is gaussian; its complete comparison ran matched noise."""

    name = "ns-random-noise"
    version = "1"
    description = "label-free: pure noise, N(0, 1), U(0, 1) or per-pixel matched (study: random_noise)"
    label_free = True
    params = (
        _RESAMPLE,
        Param(
            "noise",
            str,
            "gaussian",
            "gaussian: N(0, 1) per pixel; uniform: U(0, 1); matched: N(mean, std) of each pixel over the training set",
            choices=("gaussian", "uniform", "matched"),
        ),
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        kind = self.values["noise"]
        if kind == "uniform":
            return torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype), None
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        if kind == "gaussian":
            return eps, None
        mean, std = x.mean(dim=0, keepdim=True), x.std(dim=0, keepdim=True) + MATCHED_EPS
        return eps * std + mean, None


class MaskNegatives(NegativeGenerator):
    """The study's ``masking`` at its defaults (``mask_type`` random, ``mask_mode`` zero,
    ``mask_ratio`` 0.5): each pixel set to 0 independently with probability ``fraction``,
    label-free. 0 is in normalised units, i.e. the dataset's mean intensity. The same images as
    ``ns-masking[drop=fraction,label=true]`` from the same generator (which embeds a label).
    Block and structured masks and the noise / shuffle / mean fills are not implemented."""

    name = "ns-mask"
    version = "1"
    description = "label-free: the image with each pixel set to 0 with probability 0.5 (study: masking)"
    label_free = True
    params = (
        _RESAMPLE,
        Param(
            "fraction", float, 0.5, "probability that a pixel is set to 0 (the study's mask_ratio)", min=0.0, max=1.0
        ),
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= self.values["fraction"]
        return x * keep.to(x.dtype), None


LABEL_FREE_NEGATIVES = (ImageMixNegatives, ClassAwareMixNegatives, RandomNoiseNegatives, MaskNegatives)


# ---------------------------------------------------------------------------------------
# Model-aware negatives (the study's adversarial strategies): labelled, kept here with the other
# strategies of its earlier library
# ---------------------------------------------------------------------------------------

#: rows per chunk of the input-gradient passes
FGSM_CHUNK = 2048


class FGSMNegatives(NegativeGenerator):
    """Adversarial hard negatives, one signed-gradient (FGSM) step: for each sample a wrong label
    w(y_i) (uniform over the allowed labels other than y_i, as ``wrong-label``; drawn first from
    ``generator``, nothing else is random), then

        x_neg_i = x_i + eps * sign(d G(x_i, w(y_i)) / d x_i),   y_neg_i = w(y_i)

    with G the current network's goodness summed over the layers trained so far, of the image
    with the wrong label embedded (``model``, ``NegativeGenerator.needs_model``). The step raises
    the goodness of the (image, wrong label) pair, so the negative looks more positive to the
    network: a hard negative. sign(0) = 0: a pixel whose gradient is exactly 0 is left unchanged
    (the label pixels, which the embedding overwrites; every pixel of an image on which all
    units are off); no clipping. Drawn afresh every epoch by default (the network changes); with ``resample=false``
    once, before training, from the untrained network. Under ``ff[label=none]`` the label is
    ignored and the step raises the goodness of the image alone, the study's label-free
    ``fast_adversarial`` direction.

    The study (``negative_strategies/adversarial.py``, commit ``1ecd3ca9``) is label-free,
    per layer (the goodness, mean of squares, of the layer being trained, on that layer's input,
    computed once before the layer trains) and its ``fast_adversarial`` takes one step of
    ``alpha`` = 0.01 (default) inside the eps = 0.1 ball: a step of 0.01, not 0.1."""

    name = "ns-fgsm"
    version = "1"
    description = "hard negatives: the image with a wrong label, one FGSM step (eps 0.1) raising its goodness"
    needs_model = True
    params = (
        Param("resample", bool, True, "draw new negatives every epoch (the model changes)"),
        Param("eps", float, 0.1, "step size: every pixel moves by eps times the sign of its gradient", min=0.0),
    )

    def generate(self, x, y, *, allowed, generator, scores=None, model=None):
        if model is None:
            raise ValueError("ns-fgsm needs the model (needs_model): a rule that passes model=... (the ff rule)")
        y_neg = draw_wrong_labels(y, allowed, generator)
        x_neg = torch.empty_like(x)
        eps = self.values["eps"]
        with torch.enable_grad():
            for i in range(0, len(x), FGSM_CHUNK):
                xb = x[i : i + FGSM_CHUNK].detach().clone().requires_grad_(True)
                (grad,) = torch.autograd.grad(model(xb, y_neg[i : i + FGSM_CHUNK]).sum(), xb)
                x_neg[i : i + FGSM_CHUNK] = xb.detach() + eps * grad.sign()
        return x_neg, y_neg


@ffbench.hookimpl
def ffbench_register_negatives(register):
    for cls in LABEL_FREE_NEGATIVES + (FGSMNegatives,):
        register(cls)
