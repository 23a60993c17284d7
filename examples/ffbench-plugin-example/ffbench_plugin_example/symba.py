"""SymBa goodness (Lee & Song 2023, arXiv 2303.08418): a symmetric, balanced FF loss.

The FF loss pushes positives above a threshold and negatives below it separately; SymBa instead
compares each positive with its paired negative:

    L = mean_i softplus(-alpha * (G(h_pos_i) - G(h_neg_i)))

so positives and negatives get gradients of equal size and no threshold is needed. ``G`` is the
per-sample score used for the loss and for goodness-per-label inference (sum of squares by default,
as in FF; ``meansq`` and ``l2`` are options). Pairs are (positive i, negative i): the ``ff`` rule
builds negatives one per positive, in the same order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import ffbench
from ffbench.component import Param
from ffbench.contracts import Goodness

SCORES = {
    "sumsq": lambda h: h.pow(2).sum(dim=-1),
    "meansq": lambda h: h.pow(2).mean(dim=-1),
    "l2": lambda h: torch.linalg.vector_norm(h, dim=-1),
}


def symba_loss(g_pos: torch.Tensor, g_neg: torch.Tensor, alpha: float) -> torch.Tensor:
    """mean softplus(-alpha * (g_pos - g_neg)) over pairs; = log(1 + exp(-alpha * delta))."""
    return F.softplus(-alpha * (g_pos - g_neg)).mean()


class SymbaGoodness(Goodness):
    name = "symba"
    version = "1"
    description = "SymBa (Lee & Song 2023): softplus(-alpha (G(pos) - G(neg))) over pos/neg pairs, no threshold"
    params = (
        Param("alpha", float, 4.0, "scale of the goodness difference (the paper's alpha)", min=0.0),
        Param("score", str, "sumsq", "per-sample goodness G", choices=tuple(SCORES)),
    )

    def score(self, h: torch.Tensor) -> torch.Tensor:
        return SCORES[self.values["score"]](h)

    def layer_loss(self, h_pos: torch.Tensor, h_neg: torch.Tensor | None) -> torch.Tensor:
        if h_neg is None:
            raise ValueError("the symba goodness compares positives with negatives: it needs a negative generator")
        if h_neg.shape[0] != h_pos.shape[0]:
            raise ValueError(
                f"symba pairs positive i with negative i, but got {h_pos.shape[0]} positives "
                f"and {h_neg.shape[0]} negatives"
            )
        return symba_loss(self.score(h_pos), self.score(h_neg), self.values["alpha"])


@ffbench.hookimpl
def ffbench_register_goodness(register):
    register(SymbaGoodness)
