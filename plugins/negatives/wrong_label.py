"""Negative samples: the same image with a wrong label (Tosato: drawn once; Hinton: every epoch)."""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import NegativeGenerator


def draw_wrong_labels(y: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each label in ``y``, a label drawn uniformly from ``allowed`` minus that label.

    Every ``y`` must be in ``allowed`` (training samples of held-out classes are removed first).
    """
    allowed = torch.sort(allowed).values
    k = torch.randint(0, allowed.numel() - 1, y.shape, generator=generator, device=y.device)
    position_of_y = torch.searchsorted(allowed, y)
    return allowed[k + (k >= position_of_y).long()]


def draw_from_pool(
    y: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(image index [N], wrong label [N]): N draws without replacement from the pool of the
    N * (A - 1) wrong-label copies of the N images (A allowed labels), as Tosato et al.'s code
    builds its negatives. An image gets 0, 1, 2 ... negatives (about a third get none)."""
    n, k = len(y), allowed.numel() - 1
    pick = torch.randperm(n * k, generator=generator, device=y.device)[:n]
    image, which = pick // k, pick % k
    allowed = torch.sort(allowed).values
    position_of_y = torch.searchsorted(allowed, y[image])
    return image, allowed[which + (which >= position_of_y).long()]


class WrongLabelNegatives(NegativeGenerator):
    """Wrong-label negatives. ``pairing`` "per-image" (default): every training image is paired
    with one negative, itself with a wrong label. "pool" (Tosato et al.'s code): the negatives are
    N draws without replacement from all N * 9 wrong-label copies, so their images are not the
    positives' (some images have several negatives, about a third none)."""

    name = "wrong-label"
    version = "1"
    description = "same image, label drawn uniformly from the wrong ones; once (default) or every epoch"
    params = (
        Param("resample", bool, False, "draw new wrong labels every epoch instead of once"),
        Param(
            "pairing",
            str,
            "per-image",
            "per-image: each image's negative is itself with a wrong label; "
            "pool: N draws without replacement from the 9N wrong-label copies (Tosato et al.'s code)",
            choices=("per-image", "pool"),
        ),
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        if self.values["pairing"] == "pool":
            image, labels = draw_from_pool(y, allowed, generator)
            return x[image], labels
        return x, draw_wrong_labels(y, allowed, generator)


@ffbench.hookimpl
def ffbench_register_negatives(register):
    register(WrongLabelNegatives)
