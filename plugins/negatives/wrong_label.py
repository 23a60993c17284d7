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


class WrongLabelNegatives(NegativeGenerator):
    name = "wrong-label"
    version = "1"
    description = "same image, label drawn uniformly from the wrong ones; once (default) or every epoch"
    params = (Param("resample", bool, False, "draw new wrong labels every epoch instead of once"),)

    def generate(self, x, y, *, allowed, generator, scores=None):
        return x, draw_wrong_labels(y, allowed, generator)


@ffbench.hookimpl
def ffbench_register_negatives(register):
    register(WrongLabelNegatives)
