"""A third-party rule as written against plugin API 1: one hidden ReLU layer and a softmax head,
trained end to end with SGD; reads neither goodness nor negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ffbench
from ffbench.component import Param
from ffbench.contracts import LearningRule, TrainedModel


class SoftmaxNet(nn.Module, TrainedModel):
    def __init__(self, d_in: int, width: int, classes: int):
        super().__init__()
        self.hidden, self.head = nn.Linear(d_in, width), nn.Linear(width, classes)

    @property
    def num_layers(self) -> int:
        return 1

    def predict(self, x):
        with torch.no_grad():
            return self.head(F.relu(self.hidden(x.flatten(1)))).argmax(1)

    def representations(self, x, y):
        with torch.no_grad():
            return [F.relu(self.hidden(x.flatten(1)))]

    def weights(self):
        return [self.hidden.weight.detach()]


class WitnessSoftmax(LearningRule):
    name = "witness-softmax"
    version = "1"
    description = "one hidden layer + softmax head, SGD (plugin API witness)"
    uses_goodness = False
    uses_negatives = False
    params = (
        Param("width", int, 64, "hidden units", min=1),
        Param("epochs", int, 5, "epochs", min=1),
        Param("lr", float, 0.1, "SGD learning rate", min=0.0),
        Param("batch_size", int, 100, "batch size", min=1),
    )

    def fit(self, data, goodness, negatives, ctx):
        torch.manual_seed(ctx.seed)
        net = SoftmaxNet(data.input_dim, self.values["width"], data.num_classes).to(ctx.device)
        opt = torch.optim.SGD(net.parameters(), lr=self.values["lr"])
        x, y = data.train.x.flatten(1), data.train.y
        for epoch in range(self.values["epochs"]):
            order = torch.randperm(len(y), generator=ctx.generator, device=ctx.device)
            for idx in order.split(self.values["batch_size"]):
                loss = F.cross_entropy(net.head(F.relu(net.hidden(x[idx]))), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            ctx.progress(epoch + 1, self.values["epochs"], "witness")
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(WitnessSoftmax)
