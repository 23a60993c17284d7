"""What the label-free MLP rules share (bp, dfa, random, cafo, mono-forward, pepita; ff and bp-ff
size their network the same way): the rule's class (:class:`MLPRule`) and parameter block
(:func:`mlp_params`), the network's sizes (:func:`hidden_dims`, :func:`default_width`) and its
seeded construction (:class:`ReLUStack`, :func:`seeded`, :func:`seeded_uniform_`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ffbench.component import Param
from ffbench.contracts import DatasetBundle, LearningRule, TrainContext, TrainedModel
from ffbench_plugins.rules.training import OPTIMIZER_PARAMS, ChecksOptimizerParams

Net = TypeVar("Net", bound=nn.Module)


def mlp_params(
    *,
    lr: float,
    batch_size: int,
    epochs: int,
    extra: tuple[Param, ...] = (),
    optimizer: bool = True,
    layers_help: str = "number of hidden layers",
    lr_help: str = "learning rate",
    batch_help: str = "batch size",
    epochs_help: str = "epochs",
) -> tuple[Param, ...]:
    """The parameter block of an MLP rule: ``layers`` (3), ``width`` (auto), then ``lr``,
    ``batch_size`` and ``epochs`` with the rule's defaults, the rule's ``extra`` parameters, and
    (``optimizer``) the shared ``OPTIMIZER_PARAMS``."""
    return (
        Param("layers", int, 3, layers_help, min=1),
        Param("width", int, None, "units per hidden layer; auto = 1000 for 28x28, 3072 for 32x32x3", min=1),
        Param("lr", float, lr, lr_help, min=0.0),
        Param("batch_size", int, batch_size, batch_help, min=1),
        Param("epochs", int, epochs, epochs_help, min=1),
        *extra,
    ) + (OPTIMIZER_PARAMS if optimizer else ())


def default_width(data: DatasetBundle) -> int:
    """docs/science.md: width 1000 for 28x28 data, 3072 for 32x32x3 data (and any larger input)."""
    return 1000 if data.input_dim <= 28 * 28 else 3072


def hidden_dims(values: dict, data: DatasetBundle) -> list[int]:
    """[input, hidden widths...] of a rule with ``layers`` and ``width`` (None: :func:`default_width`)."""
    return [data.input_dim] + [values["width"] or default_width(data)] * values["layers"]


@torch.no_grad()
def seeded_uniform_(modules, generator: torch.Generator, gain: float = 1.0) -> None:
    """Re-draw each Linear's or Conv's weight (and bias, if any) from U(-b, b), b = gain / sqrt(fan_in)
    (fan_in: the inputs of one output unit, C_in * k * k for a conv), using ``generator`` (which must
    live on the modules' device), in module order. With gain 1 this is torch's default distribution,
    drawn from the run's generator instead of torch's global one: a seed's initialisation then
    depends on ``ctx.seed`` only."""
    for m in modules:
        bound = gain * m.weight[0].numel() ** -0.5
        m.weight.uniform_(-bound, bound, generator=generator)
        if m.bias is not None:
            m.bias.uniform_(-bound, bound, generator=generator)


class ReLUStack(nn.Module, TrainedModel):
    """Hidden layers h_l = ReLU(W_l h_{l-1} + b_l) over the flattened image, without input
    normalisation and without a label: the stack of the MLP rules, each adding its own head
    (bp, dfa, pepita: a Linear head; cafo: a predictor per block; mono-forward: a projection per
    layer) and ``predict``. Representations are the hidden activity for the image alone."""

    def __init__(self, dims: list[int], bias: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1], bias=bias) for i in range(len(dims) - 1))

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def hidden(self, x: torch.Tensor, detach: bool = False) -> list[torch.Tensor]:
        """Activity per layer; with ``detach`` each layer reads its predecessor detached (training)."""
        hs, h = [], x.reshape(x.shape[0], -1)
        for layer in self.layers:
            h = F.relu(layer(h.detach() if detach else h))
            hs.append(h)
        return hs

    @torch.no_grad()
    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return self.hidden(x)

    def weights(self) -> list[torch.Tensor]:
        return [layer.weight.detach() for layer in self.layers]


def seeded(net: Net, ctx: TrainContext, *after: nn.Linear, gain: float = 1.0) -> Net:
    """``net`` moved to ``ctx.device``, its hidden layers and then the Linear modules ``after``
    (its head or predictors) drawn from ``ctx.generator`` by :func:`seeded_uniform_`, in that
    order. A rule draws its fixed random matrices after this."""
    net.to(ctx.device)
    seeded_uniform_([*net.layers, *after], ctx.generator, gain)
    return net


class MLPRule(ChecksOptimizerParams, LearningRule):
    """A rule that trains a label-free MLP from its parameter block (:func:`mlp_params`): it reads
    neither goodness nor negatives, refuses inconsistent optimizer values when its parameters are
    resolved, and counts its matmul FLOPs with ``count_flops(dims, n, epochs, classes)``
    (plugins/rules/flops.py) on its :func:`hidden_dims`."""

    uses_goodness = False
    uses_negatives = False
    count_flops: ClassVar[Callable[[list[int], int, int, int], int]]

    def training_flops(self, data, goodness, negatives):
        v = self.values
        return self.count_flops(hidden_dims(v, data), len(data.train), v["epochs"], data.num_classes)
