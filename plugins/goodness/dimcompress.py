"""Dimensionality compression (DC) goodness (Zhu et al., Stochastic Forward-Forward; docs/science.md).

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

Per-layer projections (``proj_dims``, e.g. 30/20/10: the SFF reference): the Goodness contract
passes only the activity to ``layer_loss``, not which layer it came from. The goodness finds the
layer from the activity's autograd graph: the nearest 2-D parameter behind ``h`` with ``h``'s
width as its output size is the weight of the layer that produced ``h``; layers are numbered in
the order their weights first appear (the ff rule, greedy or simultaneous, and the bp-ff rule
both call the layer losses of one network in layer order), a weight that does not continue the
current chain (its input size is the augmented input's width, or not the previous layer's
output size) starting a new network. ``terms``/``layer_loss``/``project`` also take the layer
index explicitly (``layer=``), which activity without a graph (no_grad) needs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import ffbench
from ffbench.component import Param
from ffbench.contracts import DatasetBundle, Goodness, TrainContext
from ffbench.errors import ParameterError

#: seed of the fixed random orthogonal projections (``proj_dim``), one per layer width
PROJECTION_SEED = 0
#: seed of the test-time noise (augment without a generator): reproducible predictions
EVAL_NOISE_SEED = 0
#: how many autograd nodes deep :func:`producing_weight` looks for a layer's weight
GRAPH_SEARCH_DEPTH = 16


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
    weight_decay: float = 0.01,
    schedule: str = "constant",
) -> EnergyReadout:
    """Fit an :class:`EnergyReadout` (AdamW with decoupled ``weight_decay``, cross-entropy on the
    class energies) on the frozen ``features`` (per-layer activity of augmented inputs) of the
    training set. ``schedule``: 'constant' learning rate, or 'cosine' decay from ``lr`` to 0 over
    all readout steps (one step per batch). Features are computed per batch of images, with fresh
    noise each epoch; never for the whole set at once. The layer scales are calibrated on the
    first batch."""
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"readout schedule must be 'constant' or 'cosine', not {schedule!r}")
    x, y = data.train.flat(), data.train.y
    with torch.no_grad():
        widths = [h.shape[-1] for h in features(x[:1])]
    readout = EnergyReadout(widths, data.num_classes, copies, layers).to(ctx.device)
    with torch.no_grad():  # nn.Linear's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from the run generator
        bound = readout.linear.in_features**-0.5
        readout.linear.weight.uniform_(-bound, bound, generator=ctx.generator)
        readout.linear.bias.uniform_(-bound, bound, generator=ctx.generator)
    opt = torch.optim.AdamW(readout.parameters(), lr=lr, weight_decay=weight_decay)
    sched = None
    if schedule == "cosine":
        steps = epochs * -(-len(y) // batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
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
            if sched is not None:
                sched.step()
            total += float(loss.detach()) * len(idx)
            hits += int((s.detach().argmax(dim=1) == y[idx]).sum())
        ctx.check_loss(total, f"energy readout epoch {epoch + 1}")
        ctx.progress(epoch + 1, epochs, "energy readout")
        ctx.log(
            f"dimcompress readout epoch {epoch + 1}/{epochs}: loss {total / len(y):.4f}, "
            f"train accuracy (noisy, with dropout) {hits / len(y):.3f}"
        )
    return readout.eval()


# ---------------------------------------------------------------------------------------
# Which layer an activity comes from (per-layer projections)
# ---------------------------------------------------------------------------------------


def producing_weight(h: torch.Tensor) -> torch.Tensor | None:
    """The weight [D_out, D_in] of the layer whose output ``h`` [..., D_out] is: the nearest 2-D leaf
    tensor with D_out rows in h's autograd graph (breadth first, through casts and transposes), or
    None when ``h`` has no graph (computed without gradients, or by frozen parameters)."""
    if h.grad_fn is None:
        return None
    frontier, seen = [h.grad_fn], {id(h.grad_fn)}
    for _ in range(GRAPH_SEARCH_DEPTH):
        found, nxt = None, []
        for node in frontier:
            var = getattr(node, "variable", None)  # AccumulateGrad: a leaf tensor
            if var is not None:
                if found is None and var.dim() == 2 and var.shape[0] == h.shape[-1]:
                    found = var
                continue
            for child, _ in node.next_functions:
                if child is not None and id(child) not in seen:
                    seen.add(id(child))
                    nxt.append(child)
        if found is not None or not nxt:
            return found
        frontier = nxt
    return None


def parse_proj_dims(text: str, owner: str = "dimcompress") -> tuple[int, ...]:
    """'30/20/10' -> (30, 20, 10): one non-negative integer per hidden layer, separated by '/'
    (commas separate a spec's parameters). Raises ParameterError naming the bad value."""
    parts = [part.strip() for part in str(text).split("/")]
    if not all(part.isdigit() for part in parts):
        raise ParameterError(
            f"Bad value {text!r} for parameter '{owner}.proj_dims': expected one non-negative integer "
            "per hidden layer, separated by '/' (e.g. proj_dims=30/20/10; 0: no projection on that "
            "layer), or auto (proj_dim on every layer)."
        )
    return tuple(int(part) for part in parts)


# ---------------------------------------------------------------------------------------
# The goodness
# ---------------------------------------------------------------------------------------


class DimCompressGoodness(Goodness):
    """Dimensionality compression (module docstring; docs/science.md). Parameters:

    - ``a``, ``b``: weights of the within-image ED (minimised) and the across-image ED (maximised).
    - ``copies`` (K), ``noise`` (dropout | gaussian), ``p``, ``noise_std``: the noisy copies.
    - ``proj_dim``: ED taken in a fixed random orthogonal projection of every layer's activity to
      this many dims (0, or >= the layer's width: no projection).
    - ``proj_dims``: one projection size per hidden layer, '/'-separated, first layer first
      (``proj_dims=30/20/10``: the SFF reference; 0 leaves that layer unprojected); ``auto``
      (default): ``proj_dim`` on every layer. Give one of ``proj_dim`` and ``proj_dims``. The
      number of sizes must equal the network's number of hidden layers (checked when a layer
      beyond the last size is trained, and before the readout is fitted). Each layer's matrix is
      drawn from seed PROJECTION_SEED + its width, as with ``proj_dim``.
    - ``readout_layers``: the energy readout reads all layers concatenated, or the last one.
    - ``readout_epochs``, ``readout_lr``, ``readout_batch_size``: the readout's AdamW training.
    - ``readout_schedule``: the readout's learning rate is ``constant`` (default) or decays from
      ``readout_lr`` to 0 along a ``cosine`` over all readout steps (the SFF reference: 2.5e-4,
      cosine, 60 epochs).
    - ``readout_weight_decay``: the readout's decoupled (AdamW) weight decay (default 0.01, the
      value used before this parameter existed).
    """

    name = "dimcompress"
    version = "2"  # 2: the energy readout is initialised from the run generator (was the global one)
    description = (
        "dimensionality compression (Zhu et al.): a * mean ED of each image's noisy copies "
        "- b * ED across images; no negatives; energy readout"
    )
    needs_negatives = False
    params = (
        Param("a", float, 0.5, "weight of the within-image ED (minimised)", min=0.0),
        Param("b", float, 0.5, "weight of the across-image ED (maximised)", min=0.0),
        Param("copies", int, 20, "K: noisy copies per image (training and test)", min=2),
        Param(
            "noise",
            str,
            "dropout",
            "noise on the layer-1 input: dropout, or additive gaussian",
            choices=("dropout", "gaussian"),
        ),
        Param("p", float, 0.2, "dropout probability (noise=dropout)", min=0.0, max=0.99),
        Param(
            "noise_std",
            float,
            0.5,
            "std of the additive gaussian noise (noise=gaussian), in units "
            "of the normalised input; 0.5 matches rescaled dropout p=0.2 on unit-variance pixels",
            min=0.0,
        ),
        Param(
            "proj_dim",
            int,
            0,
            "ED in a fixed random orthogonal projection to this many dims (0, or >= the layer width: none)",
            min=0,
        ),
        Param(
            "proj_dims",
            str,
            None,
            "projection dims per hidden layer, '/'-separated, e.g. 30/20/10 "
            "(0: none on that layer); auto: proj_dim on every layer",
        ),
        Param(
            "readout_layers",
            str,
            "all",
            "readout features: all layers concatenated, or the last",
            choices=("all", "last"),
        ),
        Param("readout_epochs", int, 5, "epochs of the energy readout", min=1),
        Param("readout_lr", float, 1e-3, "AdamW learning rate of the energy readout", min=0.0),
        Param("readout_batch_size", int, 256, "images per readout batch (each with K copies)", min=1),
        Param(
            "readout_schedule",
            str,
            "constant",
            "readout learning rate: constant, or cosine decay to 0 over the readout steps",
            choices=("constant", "cosine"),
        ),
        Param("readout_weight_decay", float, 0.01, "AdamW (decoupled) weight decay of the energy readout", min=0.0),
    )

    def __init_component__(self) -> None:
        #: fixed projections, one per (layer width, dims, device); drawn on first use
        self._projections: dict[tuple[int, int, str], torch.Tensor] = {}
        #: projection dims per layer (None: proj_dim on every layer)
        self.layer_dims: tuple[int, ...] | None = None
        if self.values["proj_dims"] is not None:
            self.layer_dims = parse_proj_dims(self.values["proj_dims"], self.name)
            if self.values["proj_dim"]:
                raise ParameterError(
                    f"Bad value {self.values['proj_dims']!r} for parameter '{self.name}.proj_dims': give "
                    f"proj_dim (one size for every layer, here {self.values['proj_dim']}) or proj_dims "
                    "(one size per layer), not both."
                )
            self.values["proj_dims"] = "/".join(map(str, self.layer_dims))  # canonical identity
        self._reset_layers()

    def _reset_layers(self) -> None:
        #: the weights of the layers seen so far in the network being trained, in layer order
        self._chain: list[weakref.ref] = []
        #: width of the last augmented input (the first layer's input size)
        self._input_width: int | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_chain", None)  # weak references (to the training network's weights)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "layer_dims" not in state:  # pickled before per-layer projections existed
            self.layer_dims = None
            self.values.setdefault("proj_dims", None)
            self.values.setdefault("readout_schedule", "constant")
            self.values.setdefault("readout_weight_decay", 0.01)
        self._chain = []
        self._input_width = state.get("_input_width")

    # -- noise ---------------------------------------------------------------------------
    def augment(self, x_flat: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """K noisy copies per image, sample-major [N*K, D]. Dropout zeroes each value with
        probability p and rescales kept values by 1/(1-p) (torch's dropout; irrelevant to the FF
        network, whose layers L2-normalise their input). Noise is drawn from ``generator`` when
        given (training), else from a generator seeded with a fixed seed, so that a model's
        predictions are reproducible."""
        self._input_width = x_flat.shape[-1]
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
    def layer_index(self, h: torch.Tensor) -> int:
        """The 0-based hidden layer that produced ``h`` (see the module docstring): its weight is
        found in h's autograd graph; weights are numbered in the order they first appear; a
        weight that does not continue the chain of the current network starts a new one."""
        w = producing_weight(h)
        if w is None:
            raise ValueError(
                f"dimcompress with proj_dims={self.values['proj_dims']} cannot tell which layer an activity "
                "without an autograd graph comes from: pass layer= (0-based) to terms/layer_loss/project"
            )
        for i, ref in enumerate(self._chain):
            if ref() is w:
                return i
        last = self._chain[-1]() if self._chain else None
        continues = last is not None and w.shape[1] == last.shape[0]
        n = len(self.layer_dims or ())
        if continues and len(self._chain) < n:
            self._chain.append(weakref.ref(w))
            return len(self._chain) - 1
        if continues and self._input_width is not None and w.shape[1] != self._input_width:
            raise ValueError(
                f"dimcompress: proj_dims={self.values['proj_dims']} gives {n} layer(s), but the network "
                f"has more hidden layers: give one projection size per hidden layer"
            )
        self._chain = [weakref.ref(w)]  # the first layer of a (new) network
        return 0

    def dims_for(self, layer: int | None, h: torch.Tensor) -> int:
        """Projection size for activity ``h`` of hidden layer ``layer`` (0-based; found from h's
        graph when None and per-layer sizes are set); 0: no projection."""
        if self.layer_dims is None:
            return self.values["proj_dim"]
        if layer is None:
            layer = self.layer_index(h)
        if not 0 <= layer < len(self.layer_dims):
            raise ValueError(
                f"dimcompress: proj_dims={self.values['proj_dims']} has no size for layer "
                f"index {layer} (0-based; {len(self.layer_dims)} layer(s))"
            )
        return self.layer_dims[layer]

    def project(self, h: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """h [..., D] in the fixed random orthogonal projection to the layer's d dims
        (if 0 < d < D; else h)."""
        d, width = self.dims_for(layer, h), h.shape[-1]
        if d == 0 or d >= width:  # a full-width orthogonal map would leave every ED unchanged
            return h
        key = (width, d, str(h.device))
        if key not in self._projections:
            self._projections[key] = random_orthogonal(width, d, PROJECTION_SEED + width).to(h.device)
        return h @ self._projections[key].to(h.dtype)

    def terms(self, h: torch.Tensor, layer: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(within, across) of activity h [N*K, D] (sample-major copies) of hidden layer ``layer``
        (0-based; only per-layer projections read it, found from h's graph when None)."""
        k = self.values["copies"]
        if h.dim() != 2 or h.shape[0] % k:
            raise ValueError(
                f"dimcompress expects activity [N*K, D] with K={k} copies per image, got shape {list(h.shape)}"
            )
        copies = self.project(h, layer).reshape(h.shape[0] // k, k, -1)  # [N, K, d]
        within = effective_dim(copies).mean()
        across = effective_dim(copies.mean(dim=1))
        return within, across

    def layer_loss(self, h_pos: torch.Tensor, h_neg: torch.Tensor | None, layer: int | None = None) -> torch.Tensor:
        if h_neg is not None:
            raise ValueError("dimcompress is trained without negatives (use the 'none' negatives)")
        within, across = self.terms(h_pos, layer)
        return self.values["a"] * within - self.values["b"] * across

    def score(self, h: torch.Tensor) -> torch.Tensor:
        """Diagnostics only (DC has no per-sample goodness): the energy ||h||^2 of each row, the
        quantity the readout's class energies are built from."""
        return h.pow(2).sum(dim=-1)

    # -- readout -------------------------------------------------------------------------
    def readout_settings(self) -> dict[str, Any]:
        """The readout's training settings, as keyword arguments of :func:`train_energy_readout`."""
        v = self.values
        return dict(
            copies=v["copies"],
            epochs=v["readout_epochs"],
            lr=v["readout_lr"],
            batch_size=v["readout_batch_size"],
            weight_decay=v["readout_weight_decay"],
            schedule=v["readout_schedule"],
        )

    def fit_readout(self, net: Any, data: DatasetBundle, ctx: TrainContext) -> EnergyReadout:
        """The energy readout on the frozen layers of ``net`` (an FFNet: ``forward_all``)."""
        if self.layer_dims is not None and len(self.layer_dims) != net.num_layers:
            raise ValueError(
                f"dimcompress: proj_dims={self.values['proj_dims']} gives {len(self.layer_dims)} "
                f"layer(s), but the network has {net.num_layers} hidden layers: give one "
                "projection size per hidden layer"
            )
        self._chain = []  # training is over: the next network starts a new chain
        return train_energy_readout(
            net.forward_all, self.augment, data, ctx, layers=self.values["readout_layers"], **self.readout_settings()
        )

    def fit_pixel_readout(self, data: DatasetBundle, ctx: TrainContext) -> EnergyReadout:
        """The same energy readout on the noisy raw pixels (``predict([augment(x)], n)``): the
        baseline that learned features must beat (docs/science.md; reported by the ``pixel-readout``
        metric)."""
        return train_energy_readout(lambda x: [x], self.augment, data, ctx, layers="all", **self.readout_settings())


@ffbench.hookimpl
def ffbench_register_goodness(register):
    register(DimCompressGoodness)
