"""Goodness functions built on the norm of a layer's activity: l2 (Tosato), sumsq (Hinton), meansq."""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import Goodness


class L2Goodness(Goodness):
    name = "l2"
    version = "1"
    description = "G(h) = ||h||_2 (Tosato et al.), threshold 3.0"
    params = (Param("threshold", float, 3.0, "theta of the FF loss"),)

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(h, dim=-1)


class SumSquaresGoodness(Goodness):
    name = "sumsq"
    version = "1"
    description = "G(h) = sum of h^2 (Hinton 2022), threshold = the layer width"
    params = (Param("threshold", float, None, "theta of the FF loss; auto = the layer's width"),)

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return h.pow(2).sum(dim=-1)

    def threshold_for(self, width: int) -> float:
        theta = self.values["threshold"]
        return float(width) if theta is None else float(theta)


class MeanSquaresGoodness(Goodness):
    name = "meansq"
    version = "1"
    description = "G(h) = mean of h^2, threshold 1.0 (sumsq with theta = width, per unit)"
    params = (Param("threshold", float, 1.0, "theta of the FF loss"),)

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return h.pow(2).mean(dim=-1)


@ffbench.hookimpl
def ffbench_register_goodness(register):
    register(L2Goodness)
    register(SumSquaresGoodness)
    register(MeanSquaresGoodness)
