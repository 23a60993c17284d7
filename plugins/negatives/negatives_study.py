"""Negative-sample strategies of "Beyond Backpropagation: A Systematic Study of the Forward-Forward
Algorithm" (github.com/koriyoshi2041/ff-negative-samples; issue 17).

The study's fair comparison (``experiments/fair_strategy_comparison.py``) runs six strategies with
the same positives (the image with its true label embedded). Written here from their definitions;
no code is taken from it. With x_i an image (normalised), y_i its label, pi a uniformly random
permutation of the training set, w(y) a label drawn uniformly from the allowed labels other than
y, the negative of sample i is (image, label to embed):

  published name            study's code                              ffbench
  ------------------------  ----------------------------------------  --------------------------------
  1_wrong_label             (x_i, w(y_i))                              wrong-label (the default)
  2_class_confusion         (x_pi(i), y_i)                             ns-class-confusion
  3_hybrid_mix              (0.5 x_i + 0.5 x_pi(i), w(y_i))            ns-hybrid-mix
  4_same_class_diff_img     (x_pi(i), w(y_i))  (any class, see below)  ns-same-class
  5_noise_augmented         (x_i + 0.3 eps, w(y_i)), eps ~ N(0, 1)     ns-noise
  6_masked                  (x_i * m, w(y_i)), m_j ~ Bernoulli(0.7)    ns-masking

All six draw the negatives once, before training (``resample=False`` here by default). The rule
embeds the returned label afterwards, so the label pixels of the altered images are overwritten,
as in the study (which alters the image, then overlays the label).

Two of the published names promise more than the code does, and every class says which it does:
``4_same_class_diff_img`` draws its partner from the whole training set, whatever its class
(``partner="any"``, the study's code; ``partner="same-class"`` is what the name says), and
``2_class_confusion`` is, row for row, the same set of pairs as "each image with the label of a
random other sample" (pi permutes both), which is how ns-class-confusion returns it. In both, the
embedded label is the shown image's own class for about 1/C of the negatives (C classes): those
negatives are correctly labelled real images. See docs/negatives_study.md.
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import NegativeGenerator
from ffbench_plugins.negatives.wrong_label import draw_wrong_labels

_RESAMPLE = Param("resample", bool, False, "draw new negatives every epoch instead of once (the study: once)")
_LABEL = Param(
    "label",
    str,
    "wrong",
    "label embedded in the altered image: wrong = uniform over the allowed labels "
    "other than the anchor's (the study); true = the anchor's own label (only the image is altered)",
    choices=("wrong", "true"),
)


def random_partners(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """A uniformly random permutation of 0..n-1 (the study's partner draw; a sample may be its own)."""
    return torch.randperm(n, generator=generator, device=device)


def same_class_partners(y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each sample, the index of another sample of the same class, uniform over them (drawn
    independently per sample, with replacement); a sample alone in its class gets itself."""
    n = len(y)
    order = torch.sort(y, stable=True).indices  # samples grouped by class
    counts = torch.bincount(y)
    starts = torch.cumsum(counts, 0) - counts  # first slot of each class in ``order``
    slot = torch.empty_like(order)
    slot[order] = torch.arange(n, device=y.device)
    rank = slot - starts[y]  # position of each sample within its class
    others = (counts[y] - 1).clamp(min=0)
    u = torch.rand(n, generator=generator, device=y.device)
    pick = torch.minimum((u * others).long(), (others - 1).clamp(min=0))
    pick = pick + (pick >= rank).long() * (others > 0).long()  # skip the sample itself
    return order[starts[y] + pick]


def labels_of_other_classes(y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each sample, the label of a random sample of another class: class c != y_i with
    probability n_c / (N - n_{y_i}) (n_c = class counts in ``y``)."""
    counts = torch.bincount(y).to(torch.float32)
    weights = counts.expand(len(y), -1).clone()
    weights[torch.arange(len(y), device=y.device), y] = 0.0
    if bool((weights.sum(1) == 0).any()):
        raise ValueError(
            "ns-class-confusion with allow_true_label=false needs samples of at least two classes, "
            f"got only class(es) {sorted(set(y.tolist()))}"
        )
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


def _label(values: dict, y: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return y.clone() if values["label"] == "true" else draw_wrong_labels(y, allowed, generator)


class ClassConfusionNegatives(NegativeGenerator):
    """The study's ``class_confusion`` ("different image + same label"): negative i is
    (x_pi(i), y_i). Returned in the order of the images: (x_j, y_sigma(j)) with sigma a uniformly
    random permutation, i.e. every image with the label of a random sample (the same set of pairs;
    only which positive it is batched with changes). The label is the image's own class with
    probability about 1/C. ``allow_true_label=false``: the label of a random sample of another
    class instead (then a class-frequency-weighted wrong label, close to ``wrong-label``)."""

    name = "ns-class-confusion"
    version = "1"
    description = "each image with the label of a random other sample (study: class_confusion)"
    params = (
        _RESAMPLE,
        Param(
            "allow_true_label",
            bool,
            True,
            "keep the ~1/C negatives whose shuffled label is the image's own "
            "class (the study does); false: draw the label from samples of other classes",
        ),
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        if self.values["allow_true_label"]:
            return x, y[random_partners(len(y), generator, y.device)]
        return x, labels_of_other_classes(y, generator)


class SameClassNegatives(NegativeGenerator):
    """The study's ``same_class_diff_img``: negative i is (x_k, w(y_i)), another image with a
    label that is wrong for sample i. ``partner`` "any" (the study's code): k = pi(i), any image,
    so the label is the shown image's own class about 1/C of the time. "same-class" (what the
    name and the code's comment say): k uniform over the other samples of class y_i, so the label
    is always wrong for the shown image (in distribution the same pairs as ``wrong-label``)."""

    name = "ns-same-class"
    version = "1"
    description = "another image with a wrong label; partner of any class (study's code) or the same class"
    params = (
        _RESAMPLE,
        Param(
            "partner",
            str,
            "any",
            "whose image: any = a random sample of any class (the study's code); "
            "same-class = a random other sample of the same class (the study's name)",
            choices=("any", "same-class"),
        ),
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        if self.values["partner"] == "any":
            k = random_partners(len(y), generator, y.device)
        else:
            k = same_class_partners(y, generator)
        return x[k], draw_wrong_labels(y, allowed, generator)


class HybridMixNegatives(NegativeGenerator):
    """The study's ``hybrid_mix``: (lam x_i + (1 - lam) x_pi(i), w(y_i)), lam = ``weight`` = 0.5,
    pi a uniformly random permutation. The label is wrong for image i; it is the partner's class
    about 1/(C-1) of the times the partner is of another class."""

    name = "ns-hybrid-mix"
    version = "1"
    description = "pixel-wise mix of two images with a wrong label (study: hybrid_mix)"
    params = (
        _RESAMPLE,
        Param(
            "weight", float, 0.5, "lam, the weight of the anchor image (1 - lam: the random partner)", min=0.0, max=1.0
        ),
        _LABEL,
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        lam = self.values["weight"]
        partner = x[random_partners(len(y), generator, y.device)]
        return lam * x + (1.0 - lam) * partner, _label(self.values, y, allowed, generator)


class NoiseNegatives(NegativeGenerator):
    """The study's ``noise_augmented``: (x_i + sigma eps, w(y_i)), eps ~ N(0, 1) per pixel,
    sigma = 0.3 in units of the normalised data."""

    name = "ns-noise"
    version = "1"
    description = "the image plus Gaussian noise, with a wrong label (study: noise_augmented)"
    params = (
        _RESAMPLE,
        Param("sigma", float, 0.3, "standard deviation of the added Gaussian noise (normalised pixel units)", min=0.0),
        _LABEL,
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.values["sigma"] * eps, _label(self.values, y, allowed, generator)


class MaskingNegatives(NegativeGenerator):
    """The study's ``masked``: (x_i * m, w(y_i)), m_j = 1 with probability 1 - p, else 0,
    independently per pixel, p = ``drop`` = 0.3. A dropped pixel becomes 0 in normalised units,
    i.e. the dataset's mean intensity, not black (as in the study)."""

    name = "ns-masking"
    version = "1"
    description = "the image with random pixels set to 0, with a wrong label (study: masked)"
    params = (
        _RESAMPLE,
        Param(
            "drop", float, 0.3, "probability that a pixel is set to 0 (normalised units: the mean)", min=0.0, max=1.0
        ),
        _LABEL,
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= self.values["drop"]
        return x * keep.to(x.dtype), _label(self.values, y, allowed, generator)


STUDY_NEGATIVES = (ClassConfusionNegatives, SameClassNegatives, HybridMixNegatives, NoiseNegatives, MaskingNegatives)


@ffbench.hookimpl
def ffbench_register_negatives(register):
    for cls in STUDY_NEGATIVES:
        register(cls)
