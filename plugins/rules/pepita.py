"""PEPITA, "present the error to perturb the input to modulate activity" (Dellaferrera & Kreiman
2022, arXiv:2201.11665): no backward pass; two forward passes per batch.

Network: the BP rule's MLP shape, bias-free (as in the paper), ReLU hidden layers h_1..h_L and a
linear output layer W_o read through a softmax.
Per batch of B samples:
  1. standard pass on x: h_l, p = softmax(W_o h_L); error e = p - onehot(y)  [B, classes];
  2. modulated pass on x' = x + e F^T, F [input_dim, classes] fixed and random: h'_l, and
  3. updates (averaged over the batch)
       dW_1 = (h_1 - h'_1)^T x' / B,  dW_l = (h_l - h'_l)^T h'_{l-1} / B  (l = 2..L),
       dW_o = e^T h'_L / B,
     fed to SGD with momentum as the parameters' gradients (W <- W - lr * momentum-filtered dW).
Paper settings (defaults here): F entries ~ U(-s, s) with s = 0.05 * sqrt(6 / input_dim);
weights He-uniform U(-sqrt(6/fan_in), sqrt(6/fan_in)); SGD lr 0.01, momentum 0.9, batch 64,
100 epochs, learning rate x0.1 at 60 % and 90 % of the epochs (the paper: epochs 60 and 90 of 100).

The two passes run in float32 even under bf16 precision: the update reads the small difference
h - h' that the perturbation F e causes, which bf16 rounding would swamp. Representations are the
standard pass's activity for the image alone (docs/rules.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import ffbench
from ffbench.component import Param
from ffbench.contracts import TrainContext
from ffbench_plugins.rules import flops
from ffbench_plugins.rules.bp import BPNet
from ffbench_plugins.rules.mlp import MLPRule, hidden_dims, mlp_params, seeded
from ffbench_plugins.rules.training import batches


class PepitaNet(BPNet):
    """Bias-free BPNet plus the fixed input projection ``F`` [input_dim, classes] (a buffer)."""

    def __init__(self, dims: list[int], num_classes: int):
        super().__init__(dims, num_classes, bias=False)
        self.register_buffer("F", torch.empty(dims[0], num_classes))


def build_pepita_net(values: dict, data, ctx: TrainContext) -> PepitaNet:
    net = PepitaNet(hidden_dims(values, data), data.num_classes)
    seeded(net, ctx, net.head, gain=6**0.5)  # He-uniform
    bound = values["feedback_scale"] * (6 / data.input_dim) ** 0.5
    net.F.uniform_(-bound, bound, generator=ctx.generator)
    return net


@torch.no_grad()
def pepita_updates(net: PepitaNet, x: torch.Tensor, y: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """([dW_1, ..., dW_L, dW_o], cross-entropy of the standard pass) for a batch (see the module doc)."""
    hs = net.hidden(x)
    logits = net.head(hs[-1])
    loss = F.cross_entropy(logits, y)
    e = torch.softmax(logits, dim=1)
    e[torch.arange(len(y), device=y.device), y] -= 1.0
    x_mod = x.reshape(x.shape[0], -1) + e @ net.F.T
    hs_mod = net.hidden(x_mod)
    inputs = [x_mod] + hs_mod[:-1]
    n = len(y)
    grads = [(h - hm).T @ inp / n for h, hm, inp in zip(hs, hs_mod, inputs)]
    grads.append(e.T @ hs_mod[-1] / n)
    return grads, loss


class PepitaRule(MLPRule):
    name = "pepita"
    version = "1"
    description = (
        "PEPITA (Dellaferrera & Kreiman 2022): a second forward pass on the input perturbed by a "
        "fixed random projection of the output error; no backward pass; label-free input and "
        "representations"
    )
    #: SGD with momentum as the paper, not the shared OPTIMIZER_PARAMS
    params = mlp_params(
        lr=0.01,
        batch_size=64,
        epochs=100,
        lr_help="SGD learning rate",
        optimizer=False,
        extra=(
            Param("momentum", float, 0.9, "SGD momentum", min=0.0),
            Param("feedback_scale", float, 0.05, "F ~ U(-s, s), s = feedback_scale * sqrt(6 / input_dim)", min=0.0),
            Param("weight_decay", float, 0.0, "SGD weight decay", min=0.0),
            Param(
                "lr_schedule",
                str,
                "step",
                "step (x0.1 at 60 % and 90 % of the epochs, the paper's), constant, or cosine decay to 0",
                choices=("step", "constant", "cosine"),
            ),
        ),
    )
    #: quick: fewer epochs (the step schedule scales with them); definitions unchanged
    presets = {"quick": {"epochs": 10}}
    #: --precision bf16 on a CPU: admitted, as it changes nothing (both passes run in float32; the
    #: 3 paired quick seeds of docs/precision.md gave identical numbers)
    bf16_cpu_verified = True

    count_flops = staticmethod(flops.pepita_flops)

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        v = self.values
        net = build_pepita_net(v, data, ctx)
        x, y = data.train.flat(), data.train.y
        epochs, bs = v["epochs"], v["batch_size"]
        params = list(net.layers.parameters()) + list(net.head.parameters())
        opt = torch.optim.SGD(params, lr=v["lr"], momentum=v["momentum"], weight_decay=v["weight_decay"])
        if v["lr_schedule"] == "step":
            milestones = sorted({max(1, round(0.6 * epochs)), max(1, round(0.9 * epochs))})
            sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
        elif v["lr_schedule"] == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        else:
            sched = None
        if ctx.precision == "bf16":
            ctx.log("pepita: the two forward passes run in float32 (h - h' is below bf16 resolution)")
        losses = []
        for epoch in range(epochs):
            total = torch.zeros((), device=ctx.device)
            for idx in batches(len(y), bs, ctx.generator, ctx.device):
                grads, loss = pepita_updates(net, x[idx], y[idx])
                for p, g in zip(params, grads):
                    p.grad = g
                opt.step()
                total += loss * len(idx)
            if sched is not None:
                sched.step()  # per epoch, as the paper's schedule
            losses.append(total / len(y))
            ctx.check_loss(losses[-1], f"epoch {epoch + 1}")
            ctx.progress(epoch + 1, epochs, "all layers")
        ctx.log(f"pepita: loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")
        for p in params:
            p.grad = None
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(PepitaRule)
