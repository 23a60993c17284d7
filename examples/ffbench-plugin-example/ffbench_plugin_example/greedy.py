"""Greedy layer-wise training (Bengio et al. 2007; Belilovsky et al. 2019): a learning rule.

Layer l (h_l = ReLU(W_l h_{l-1} + b_l)) is trained with its own linear softmax head
z_l = V_l h_l + c_l and the cross-entropy CE(z_l, y), for ``epochs`` epochs, on the frozen
outputs of layers 1..l-1; then layer l+1, and so on. No gradient crosses a layer. Prediction:
the last layer's head. The input carries no label, so representations are the activity for the
image alone (``reads_label = False``). Reads neither a goodness nor negatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ffbench
from ffbench.component import Param
from ffbench.contracts import LearningRule, TrainContext, TrainedModel


class GreedyNet(nn.Module, TrainedModel):
    reads_label = False  # representations(x, y) ignore y: metrics and rows say "no label in input"

    def __init__(self, dims: list[int], num_classes: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.heads = nn.ModuleList(nn.Linear(d, num_classes) for d in dims[1:])

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @torch.no_grad()
    def representations(self, x, y):
        hs, h = [], x.flatten(1)
        for layer in self.layers:
            h = F.relu(layer(h))
            hs.append(h)
        return hs

    @torch.no_grad()
    def predict(self, x):
        return self.heads[-1](self.representations(x, None)[-1]).argmax(dim=1)

    def weights(self):
        return [layer.weight.detach() for layer in self.layers]


class GreedyLayerwise(LearningRule):
    name = "greedy-layerwise"
    version = "1"
    description = "greedy layer-wise training, a softmax head per layer (Bengio et al. 2007); no label in the input"
    uses_goodness = uses_negatives = False  # fit receives goodness=None, negatives=None
    # stacks_seeds stays False: the runner calls fit once per seed. Set it (and override fit_seeds)
    # only to train several seeds in one batched model, and then seed s of a stack must equal seed
    # s trained alone (draw each seed's numbers from its own ctx.generator, as the ff rule does).
    params = (
        Param("layers", int, 2, "number of hidden layers", min=1),
        Param("width", int, 256, "units per hidden layer", min=1),
        Param("epochs", int, 5, "epochs per layer", min=1),
        Param("lr", float, 1e-3, "Adam learning rate", min=0.0),
        Param("batch_size", int, 256, "batch size", min=1),
    )
    presets = {"quick": {"epochs": 3}}

    def fit(self, data, goodness, negatives, ctx: TrainContext) -> GreedyNet:
        v = self.values
        net = GreedyNet([data.input_dim] + [v["width"]] * v["layers"], data.num_classes).to(ctx.device)
        with torch.no_grad():  # initial weights from the run's generator: same seed, same model
            for m in [*net.layers, *net.heads]:  # nn.Linear's U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                bound = m.in_features**-0.5
                m.weight.uniform_(-bound, bound, generator=ctx.generator)
                m.bias.uniform_(-bound, bound, generator=ctx.generator)
        x, y = data.train.flat(), data.train.y
        for l, (layer, head) in enumerate(zip(net.layers, net.heads), start=1):
            opt = torch.optim.Adam([*layer.parameters(), *head.parameters()], lr=v["lr"])
            block = nn.Sequential(layer, nn.ReLU(), head)  # shares the layer's and head's weights
            step = torch.compile(block) if ctx.compile else block  # --compile: opt-in
            for epoch in range(v["epochs"]):
                total = torch.zeros((), device=ctx.device)
                for idx in torch.randperm(len(y), generator=ctx.generator, device=ctx.device).split(v["batch_size"]):
                    with ctx.autocast():  # bf16 under --precision bf16; a no-op otherwise
                        loss = F.cross_entropy(step(x[idx]).float(), y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += loss.detach() * len(idx)
                ctx.check_loss(total / len(y), f"layer {l}, epoch {epoch + 1}")  # stops a diverged run
                ctx.progress((l - 1) * v["epochs"] + epoch + 1, v["layers"] * v["epochs"], f"layer {l}")
            with torch.no_grad(), ctx.autocast():  # the next layer trains on this one's frozen output
                x = F.relu(layer(x)).float()
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(GreedyLayerwise)
