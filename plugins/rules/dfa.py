"""Direct Feedback Alignment (Nokland 2016, arXiv:1609.01596): the BP rule's MLP (hidden stack +
linear head), but every hidden layer learns from the output error sent to it directly through a
fixed random matrix, not from the transposed forward weights.

Per batch of B samples: a_i = W_i h_{i-1} + b_i, h_i = ReLU(a_i), logits = W_o h_L + b_o,
e = softmax(logits) - onehot(y) (the gradient of the cross-entropy w.r.t. the logits).
Hidden layer i: delta_i = (e B_i) * relu'(a_i) with B_i [classes, width] fixed and random;
dW_i = delta_i^T h_{i-1} / B, db_i = sum_n delta_i / B. Head: its true cross-entropy gradient
(e^T h_L / B). These updates are fed to one Adam as the parameters' gradients.

Implementation: each layer reads its predecessor detached, and the backward pass is run on the
surrogate  CE(head(h_L), y) + sum_i sum(a_i * delta_i.detach()) / B  whose gradient w.r.t. W_i, b_i
is exactly dW_i, db_i above, and w.r.t. the head its true gradient.

Feedback matrices: B_i entries ~ U(-1/sqrt(classes), 1/sqrt(classes)), drawn from ctx.generator
after the weights and kept as buffers of the trained model (``feedback``), never updated. With Adam
a global scale of B_i changes the update only through Adam's epsilon (docs/rules.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import ffbench
from ffbench.contracts import TrainContext
from ffbench_plugins.rules import flops
from ffbench_plugins.rules.bp import BPNet
from ffbench_plugins.rules.mlp import MLPRule, hidden_dims, mlp_params, seeded
from ffbench_plugins.rules.training import minibatch_epochs


class DFANet(BPNet):
    """BPNet plus the fixed feedback matrices (buffers ``feedback_0`` ...)."""

    def __init__(self, dims: list[int], num_classes: int):
        super().__init__(dims, num_classes)
        for i, d in enumerate(dims[1:]):
            self.register_buffer(f"feedback_{i}", torch.empty(num_classes, d))

    @property
    def feedback(self) -> list[torch.Tensor]:
        return [getattr(self, f"feedback_{i}") for i in range(self.num_layers)]


def build_dfa_net(values: dict, data, ctx: TrainContext) -> DFANet:
    net = DFANet(hidden_dims(values, data), data.num_classes)
    seeded(net, ctx, net.head)
    bound = data.num_classes**-0.5
    for b in net.feedback:
        b.uniform_(-bound, bound, generator=ctx.generator)
    return net


def dfa_surrogate(net: DFANet, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(cross-entropy, surrogate): backward on the surrogate leaves the DFA updates in .grad."""
    pre, h = [], x
    for layer in net.layers:
        a = layer(h.detach())
        pre.append(a)
        h = F.relu(a)
    logits = net.head(h.detach())
    loss = F.cross_entropy(logits.float(), y)
    with torch.no_grad():
        e = torch.softmax(logits.float(), dim=1)
        e[torch.arange(len(y), device=y.device), y] -= 1.0
        e /= len(y)
    surrogate = loss
    for a, b in zip(pre, net.feedback):
        delta = (e @ b) * (a.detach() > 0)
        surrogate = surrogate + (a.float() * delta).sum()
    return loss, surrogate


class DFARule(MLPRule):
    name = "dfa"
    version = "1"
    description = (
        "direct feedback alignment (Nokland 2016): output error to every hidden layer through a "
        "fixed random matrix, head by its true gradient; label-free input and representations"
    )
    params = mlp_params(lr=1e-4, batch_size=2048, epochs=80)
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 10, "batch_size": 256, "lr": 1e-3}}

    count_flops = staticmethod(flops.dfa_flops)

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        net = build_dfa_net(self.values, data, ctx)
        x, y = data.train.flat(), data.train.y

        def step(idx):
            loss, surrogate = dfa_surrogate(net, x[idx], y[idx])
            return surrogate, loss

        losses = minibatch_epochs(self.values, net.parameters(), len(y), ctx, step, "all layers")
        ctx.log(f"dfa: loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(DFARule)
