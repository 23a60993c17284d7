"""Dimensionality compression (DC) goodness (Zhu et al., Stochastic Forward-Forward; SCIENCE.md).

Each image is presented as K noisy copies (dropout on the layer-1 input, also at test time). For a
layer's activity h [N*K, D] (sample-major: rows i*K .. i*K+K-1 are the copies of image i):

    ED(C)  = (tr C)^2 / ||C||_F^2                       (participation ratio, C uncentred)
    within = mean_i ED(H_i^T H_i / (K-1))               H_i [K, D]: the copies of image i
    across = ED(M^T M / (N-1))                          M [N, D]: the mean over copies
    loss   = a * within - b * across

so noisy copies of one image are compressed onto few directions while different images spread
over many: no negatives are needed. ED is scale-invariant, so the 1/(K-1) and 1/(N-1) factors
cancel and are not applied; tr and ||.||_F are taken from the smaller Gram matrix (H H^T or
H^T H, equal in trace and Frobenius norm), so no D x D matrix is formed when N or K < D.

Inference (:class:`EnergyReadout`): a linear readout on the frozen features of every noisy copy;
class energy s_c = sum over copies of z_c^2 / (K-1); trained with cross-entropy on s; prediction
argmax s.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

import ffbench
from ffbench.component import Param
from ffbench.contracts import DatasetBundle, Goodness, TrainContext

#: seed of the fixed random orthogonal projections (``proj_dim``), one per layer width
PROJECTION_SEED = 0
#: seed of the test-time noise (augment without a generator): reproducible predictions
EVAL_NOISE_SEED = 0


# ---------------------------------------------------------------------------------------
# Effective dimensionality
# ---------------------------------------------------------------------------------------


def participation_ratio(c: torch.Tensor) -> torch.Tensor:
    """ED of symmetric PSD matrices c [..., D, D]: (tr c)^2 / ||c||_F^2 (0 for a zero matrix)."""
    trace = torch.diagonal(c, dim1=-2, dim2=-1).sum(-1)
    frob2 = c.pow(2).sum((-2, -1))
    return trace.pow(2) / torch.where(frob2 > 0, frob2, torch.ones_like(frob2))


def effective_dim(x: torch.Tensor) -> torch.Tensor:
    """ED of the uncentred second moment x^T x of data x [..., R, D] (R rows of D values), from the
    smaller of the Gram matrices x x^T [R, R] and x^T x [D, D]: differentiable, batched over
    leading dimensions, 0 for all-zero data."""
    r, d = x.shape[-2], x.shape[-1]
    gram = x @ x.transpose(-2, -1) if r <= d else x.transpose(-2, -1) @ x
    return participation_ratio(gram)


def random_orthogonal(rows: int, cols: int, seed: int) -> torch.Tensor:
    """A fixed [rows, cols] matrix with orthonormal columns (cols <= rows), drawn on the CPU."""
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(rows, cols, generator=g))
    return q * torch.sign(torch.diagonal(r))  # sign fix: Haar-distributed columns


# ---------------------------------------------------------------------------------------
# Readout
# ---------------------------------------------------------------------------------------


class EnergyReadout(nn.Module):
    """Linear readout on frozen features of K noisy copies per image; predicts argmax of the class
    energy s_c = sum over copies of z_c^2 / (K-1). Dropout (``dropout``) acts only in training.

    Features: the last layer's activity, or all layers' concatenated, each layer divided by a fixed
    scalar (its root-mean-square activity on training data, see :meth:`calibrate`). DC's loss is
    scale-invariant and leaves the activity scale arbitrary; the per-layer scalars are absorbed by
    the Linear map (same function class) but keep the energy readout off its flat start, where
    z ~ 0 makes the energies equal and the gradients vanish."""

    def __init__(self, widths: list[int], num_classes: int, copies: int, layers: str, dropout: float = 0.5):
        super().__init__()
        self.used = list(range(len(widths))) if layers == "all" else [len(widths) - 1]
        self.linear = nn.Linear(sum(widths[l] for l in self.used), num_classes)
        self.register_buffer("scales", torch.ones(len(self.used)))
        self.copies, self.dropout = copies, dropout

    @torch.no_grad()
    def calibrate(self, hs: list[torch.Tensor]) -> None:
        """Set each used layer's scale to the root-mean-square of its activity hs[l] (1 if all zero)."""
        rms = torch.stack([hs[l].pow(2).mean().sqrt() for l in self.used])
        self.scales.copy_(torch.where(rms > 0, rms, torch.ones_like(rms)))

    def features(self, hs: list[torch.Tensor]) -> torch.Tensor:
        """[n*K, F]: the used layers' activity, each divided by its scale, concatenated."""
        return torch.cat([hs[l] / self.scales[i] for i, l in enumerate(self.used)], dim=-1)

    def energy(self, feats: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Class energies [n, C] of features [n*K, F]. With a ``generator``, training mode:
        dropout on the features (masks drawn from it, kept units rescaled by 1/(1-dropout))."""
        if generator is not None and self.dropout > 0:
            keep = torch.rand(feats.shape, generator=generator, device=feats.device) >= self.dropout
            feats = feats * keep / (1.0 - self.dropout)
        z = self.linear(feats).reshape(n, self.copies, -1)
        return z.pow(2).sum(dim=1) / (self.copies - 1)

    @torch.no_grad()
    def predict(self, hs: list[torch.Tensor], n: int) -> torch.Tensor:
        """Labels [n] from the layers' activity hs (each [n*K, D_l]) for K noisy copies per image."""
        return self.energy(self.features(hs), n).argmax(dim=1)


def train_energy_readout(
    features: Callable[[torch.Tensor], list[torch.Tensor]],
    augment: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor],
    data: DatasetBundle,
    ctx: TrainContext,
    *,
    copies: int,
    layers: str,
    epochs: int,
    lr: float,
    batch_size: int,
) -> EnergyReadout:
    """Fit an :class:`EnergyReadout` (AdamW, cross-entropy on the class energies) on the frozen
    ``features`` (per-layer activity of augmented inputs) of the training set. Features are
    computed per batch of images, with fresh noise each epoch; never for the whole set at once.
    The layer scales are calibrated on the first batch."""
    x, y = data.train.flat(), data.train.y
    with torch.no_grad():
        widths = [h.shape[-1] for h in features(x[:1])]
    readout = EnergyReadout(widths, data.num_classes, copies, layers).to(ctx.device)
    opt = torch.optim.AdamW(readout.parameters(), lr=lr, weight_decay=0.01)
    calibrated = False
    for epoch in range(epochs):
        total, hits = 0.0, 0
        for idx in torch.randperm(len(y), generator=ctx.generator, device=ctx.device).split(batch_size):
            with torch.no_grad():
                hs = features(augment(x[idx], ctx.generator))
                if not calibrated:
                    readout.calibrate(hs)
                    calibrated = True
                feats = readout.features(hs)
            s = readout.energy(feats, len(idx), ctx.generator)
            loss = F.cross_entropy(s, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            hits += int((s.detach().argmax(dim=1) == y[idx]).sum())
        ctx.progress(epoch + 1, epochs, "energy readout")
        ctx.log(f"dimcompress readout epoch {epoch + 1}/{epochs}: loss {total / len(y):.4f}, "
                f"train accuracy (noisy, with dropout) {hits / len(y):.3f}")
    return readout.eval()


# ---------------------------------------------------------------------------------------
# The goodness
# ---------------------------------------------------------------------------------------


class DimCompressGoodness(Goodness):
    name = "dimcompress"
    version = "1"
    description = ("dimensionality compression (Zhu et al.): a * mean ED of each image's noisy copies "
                   "- b * ED across images; no negatives; energy readout")
    needs_negatives = False
    params = (
        Param("a", float, 0.5, "weight of the within-image ED (minimised)", min=0.0),
        Param("b", float, 0.5, "weight of the across-image ED (maximised)", min=0.0),
        Param("copies", int, 20, "K: noisy copies per image (training and test)", min=2),
        Param("noise", str, "dropout", "noise on the layer-1 input: dropout, or additive gaussian",
              choices=("dropout", "gaussian")),
        Param("p", float, 0.2, "dropout probability (noise=dropout)", min=0.0, max=0.99),
        Param("noise_std", float, 0.5, "std of the additive gaussian noise (noise=gaussian), in units "
              "of the normalised input; 0.5 matches rescaled dropout p=0.2 on unit-variance pixels", min=0.0),
        Param("proj_dim", int, 0, "ED in a fixed random orthogonal projection to this many dims "
              "(0, or >= the layer width: none)", min=0),
        Param("readout_layers", str, "all", "readout features: all layers concatenated, or the last",
              choices=("all", "last")),
        Param("readout_epochs", int, 5, "epochs of the energy readout", min=1),
        Param("readout_lr", float, 1e-3, "AdamW learning rate of the energy readout", min=0.0),
        Param("readout_batch_size", int, 256, "images per readout batch (each with K copies)", min=1),
    )

    def __init_component__(self) -> None:
        #: fixed projections, one per (layer width, device); drawn on first use
        self._projections: dict[tuple[int, str], torch.Tensor] = {}

    # -- noise ---------------------------------------------------------------------------
    def augment(self, x_flat: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """K noisy copies per image, sample-major [N*K, D]. Dropout zeroes each value with
        probability p and rescales kept values by 1/(1-p) (torch's dropout; irrelevant to the FF
        network, whose layers L2-normalise their input). Noise is drawn from ``generator`` when
        given (training), else from a generator seeded with a fixed seed, so that a model's
        predictions are reproducible."""
        if generator is None:
            generator = torch.Generator(device=x_flat.device).manual_seed(EVAL_NOISE_SEED)
        x = x_flat.repeat_interleave(self.values["copies"], dim=0)
        if self.values["noise"] == "gaussian":
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            return x + self.values["noise_std"] * noise
        p = self.values["p"]
        keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p
        return x * keep / (1.0 - p)

    # -- loss ----------------------------------------------------------------------------
    def _projected(self, h: torch.Tensor) -> torch.Tensor:
        """h [..., D] in the fixed random orthogonal projection to proj_dim dims (if 0 < proj_dim < D)."""
        d, width = self.values["proj_dim"], h.shape[-1]
        if d == 0 or d >= width:  # a full-width orthogonal map would leave every ED unchanged
            return h
        key = (width, str(h.device))
        if key not in self._projections:
            self._projections[key] = random_orthogonal(width, d, PROJECTION_SEED + width).to(h.device)
        return h @ self._projections[key].to(h.dtype)

    def terms(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(within, across) of activity h [N*K, D] (sample-major copies)."""
        k = self.values["copies"]
        if h.dim() != 2 or h.shape[0] % k:
            raise ValueError(f"dimcompress expects activity [N*K, D] with K={k} copies per image, "
                             f"got shape {list(h.shape)}")
        copies = self._projected(h).reshape(h.shape[0] // k, k, -1)  # [N, K, d]
        within = effective_dim(copies).mean()
        across = effective_dim(copies.mean(dim=1))
        return within, across

    def layer_loss(self, h_pos: torch.Tensor, h_neg: torch.Tensor | None) -> torch.Tensor:
        if h_neg is not None:
            raise ValueError("dimcompress is trained without negatives (use the 'none' negatives)")
        within, across = self.terms(h_pos)
        return self.values["a"] * within - self.values["b"] * across

    def score(self, h: torch.Tensor) -> torch.Tensor:
        """Diagnostics only (DC has no per-sample goodness): the energy ||h||^2 of each row, the
        quantity the readout's class energies are built from."""
        return h.pow(2).sum(dim=-1)

    # -- readout -------------------------------------------------------------------------
    def fit_readout(self, net: Any, data: DatasetBundle, ctx: TrainContext) -> EnergyReadout:
        """The energy readout on the frozen layers of ``net`` (an FFNet: ``forward_all``)."""
        v = self.values
        return train_energy_readout(
            net.forward_all, self.augment, data, ctx, copies=v["copies"], layers=v["readout_layers"],
            epochs=v["readout_epochs"], lr=v["readout_lr"], batch_size=v["readout_batch_size"],
        )

    def fit_pixel_readout(self, data: DatasetBundle, ctx: TrainContext) -> EnergyReadout:
        """The same energy readout on the noisy raw pixels (``predict([augment(x)], n)``): the
        baseline that learned features must beat (SCIENCE.md)."""
        v = self.values
        return train_energy_readout(
            lambda x: [x], self.augment, data, ctx, copies=v["copies"], layers="all",
            epochs=v["readout_epochs"], lr=v["readout_lr"], batch_size=v["readout_batch_size"],
        )


@ffbench.hookimpl
def ffbench_register_goodness(register):
    register(DimCompressGoodness)
