"""Hard negatives (Hinton 2022): the wrong label is sampled from the model's own label scores.

The rule passes ``scores`` [N, C]: the layers' per-layer log-softmax over labels, summed (a
product of the layers' label distributions). A wrong label is drawn with probability
proportional to softmax(scores / temperature) over the allowed labels other than the true one.
Negatives are drawn afresh every epoch by default (the model changes as it trains).
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import NegativeGenerator


def sample_hard_labels(
    scores: torch.Tensor, y: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator, temperature: float = 1.0
) -> torch.Tensor:
    logits = scores / temperature
    mask = torch.full_like(logits, float("-inf"))
    mask[:, allowed] = 0.0
    mask[torch.arange(len(y), device=y.device), y] = float("-inf")
    probs = torch.softmax(logits + mask, dim=1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


class HardNegatives(NegativeGenerator):
    name = "hard"
    version = "1"
    description = "same image, wrong label sampled from the model's own label scores (Hinton)"
    needs_scores = True
    params = (
        Param("resample", bool, True, "draw new labels every epoch (the model's scores change)"),
        Param("temperature", float, 1.0, "softmax temperature on the label scores", min=1e-6),
    )

    def generate(self, x, y, *, allowed, generator, scores=None):
        if scores is None:
            raise ValueError("hard negatives need the model's label scores")
        return x, sample_hard_labels(scores, y, allowed, generator, self.values["temperature"])


class NoNegatives(NegativeGenerator):
    name = "none"
    version = "1"
    description = "no negative samples (for goodness functions that need none, e.g. dimcompress)"
    produces_negatives = False

    def generate(self, x, y, *, allowed, generator, scores=None):
        raise TypeError("the 'none' negative generator produces no negatives")


@ffbench.hookimpl
def ffbench_register_negatives(register):
    register(HardNegatives)
    register(NoNegatives)
