"""The FF network shared by the `ff` and `bp-ff` rules (SCIENCE.md, "Models").

Each layer: x -> x / ||x||_2 (per sample) -> Linear(bias) -> ReLU. Labels are embedded in the
first pixels of the image; inference scores every candidate label in one batched pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffbench.contracts import DatasetBundle, Goodness, TrainedModel

EPS = 1e-8


def default_width(data: DatasetBundle) -> int:
    """SCIENCE.md: width 1000 for 28x28 data, 3072 for 32x32x3 data (and any larger input)."""
    return 1000 if data.input_dim <= 28 * 28 else 3072


def normalize(x: torch.Tensor) -> torch.Tensor:
    """x / ||x||_2 per sample (row)."""
    return x / (torch.linalg.vector_norm(x, dim=-1, keepdim=True) + EPS)


class LabelEmbedding:
    """Zero the first ``num_classes`` values of the top row in every channel, then set the value at
    index ``label`` to ``value`` (the maximum of the normalised training data)."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int, value: float):
        channels, height, width = shape
        if num_classes > width:
            raise ValueError(f"cannot embed {num_classes} labels in a top row of {width} pixels")
        self.offsets = [c * height * width for c in range(channels)]
        self.num_classes, self.value = num_classes, float(value)

    def __call__(self, x_flat: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        out = x_flat.clone()
        rows = torch.arange(out.shape[0], device=out.device)
        for off in self.offsets:
            out[:, off : off + self.num_classes] = 0.0
            out[rows, off + labels] = self.value
        return out

    def all_labels(self, x_flat: torch.Tensor, num_classes: int) -> torch.Tensor:
        """[C * N, D]: every sample embedded with label 0, then every sample with label 1, ..."""
        n = x_flat.shape[0]
        labels = torch.arange(num_classes, device=x_flat.device).repeat_interleave(n)
        return self(x_flat.repeat(num_classes, 1), labels)


class FFNet(nn.Module, TrainedModel):
    """An MLP of FF layers plus goodness-per-label inference.

    ``inference``: 'softmax' (softmax over labels within each layer, summed over layers; Tosato)
    or 'raw' (goodness summed over layers); ``skip_first`` leaves layer 1 out (Hinton).
    """

    def __init__(self, dims: list[int], embedding: LabelEmbedding, goodness: Goodness, num_classes: int,
                 inference: str = "softmax", skip_first: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
        self.embedding, self.goodness = embedding, goodness
        self.num_classes, self.inference, self.skip_first = num_classes, inference, skip_first

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def layer_forward(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.layers[index](normalize(x)))

    def forward_all(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """Activity of layers 1..upto (all by default) for already-embedded inputs."""
        hs = []
        for i in range(self.num_layers if upto is None else upto):
            x = self.layer_forward(i, x)
            hs.append(x)
        return hs

    # -- inference ----------------------------------------------------------------------
    def label_goodness(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Goodness of every candidate label at every layer: [N, C, L]."""
        flat = x.reshape(x.shape[0], -1)
        hs = self.forward_all(self.embedding.all_labels(flat, self.num_classes), upto)
        g = torch.stack([self.goodness.score(h) for h in hs], dim=-1)  # [C*N, L]
        return g.reshape(self.num_classes, flat.shape[0], -1).transpose(0, 1)

    def combine(self, g: torch.Tensor) -> torch.Tensor:
        """Per-label scores [N, C] from per-layer goodness [N, C, L]."""
        if self.skip_first and g.shape[-1] > 1:
            g = g[..., 1:]
        if self.inference == "softmax":
            return torch.softmax(g, dim=1).sum(dim=-1)
        return g.sum(dim=-1)

    def label_log_probs(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Summed per-layer log-softmax over labels [N, C]: what hard negatives sample from."""
        return torch.log_softmax(self.label_goodness(x, upto), dim=1).sum(dim=-1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(self.label_goodness(x)).argmax(dim=1)

    @torch.no_grad()
    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_all(self.embedding(x.reshape(x.shape[0], -1), y))

    def weights(self) -> list[torch.Tensor]:
        return [layer.weight.detach() for layer in self.layers]


def forward_in_chunks(fn, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Apply ``fn`` to row chunks of ``x`` without gradients and concatenate."""
    with torch.no_grad():
        return torch.cat([fn(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])
