"""Pixel-shuffle negatives: a negative generator.

Negative i is positive i's image with a ``fraction`` of its pixel positions (drawn per image)
permuted among themselves, labelled with a wrong label drawn uniformly from the allowed labels
other than y_i. Scrambling keeps each image's pixel values and destroys part of its spatial
structure, so an FF layer can tell a negative by its scrambled pixels as well as by its label:
a shortcut that needs no label, which the more it is taken, the less the layer learns of labels.
``fraction = 0`` gives wrong-label negatives (same image, wrong label); ``fraction = 1``
scrambles every pixel.
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import NegativeGenerator


def wrong_labels(y: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each y_i (itself in ``allowed``), a label drawn uniformly from ``allowed`` minus y_i."""
    allowed = torch.sort(allowed).values
    k = torch.randint(0, len(allowed) - 1, y.shape, generator=generator, device=y.device)
    return allowed[k + (k >= torch.searchsorted(allowed, y)).long()]  # skip over y_i's own position


def shuffle_pixels(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """x [N, ...] with, in each sample, k = round(fraction * D) of its D values (positions drawn
    per sample) permuted among themselves; the other D - k values stay in place."""
    flat = x.reshape(len(x), -1)
    k = round(fraction * flat.shape[1])
    chosen = torch.rand(flat.shape, generator=generator, device=x.device).argsort(dim=1)[:, :k]
    order = torch.rand(chosen.shape, generator=generator, device=x.device).argsort(dim=1)
    return flat.scatter(1, chosen, flat.gather(1, chosen.gather(1, order))).reshape(x.shape)


class PixelShuffleNegatives(NegativeGenerator):
    name = "pixel-shuffle"
    version = "1"
    description = "the image with a fraction of its pixels permuted, and a wrong label"
    produces_negatives = True  # (the default) False would declare a generator that makes none
    needs_scores = False  # (the default) True asks the rule for the model's label scores [N, C]
    params = (
        Param("fraction", float, 0.25, "fraction of the pixel positions permuted in each image", min=0.0, max=1.0),
        # a bool parameter named "resample" is read by NegativeGenerator.resamples: the rule then
        # draws afresh every epoch, else once before training
        Param("resample", bool, False, "draw new negatives every epoch instead of once"),
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        # labels first, then pixels: both from `generator` only, so a seed fixes the negatives
        y_neg = wrong_labels(y, allowed, generator)
        return shuffle_pixels(x, self.values["fraction"], generator), y_neg


@ffbench.hookimpl
def ffbench_register_negatives(register):
    register(PixelShuffleNegatives)
