"""Linear CKA between the layers of one model, with the input pixels, and (after the fact) between
the layers of two models (docs/science.md, "Metrics", going further).

**Linear CKA** (centred kernel alignment, Kornblith et al. 2019). For two representations of the
same n samples, X [n, p] and Y [n, q], each centred (column means subtracted):

    CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)

equivalently <K, L>_F / (||K||_F ||L||_F) with the centred Gram matrices K = X X^T, L = Y Y^T
(the form computed here: one n x n Gram per layer serves every pair). It lies in [0, 1], is 1 for
X = Y, and is invariant to orthogonal transforms and isotropic scaling of either side (not to
arbitrary invertible linear maps). A side whose centred activity is all zero (a dead layer, or
one that is constant over the samples) leaves CKA undefined: NaN. Computed in float64.

**Samples.** A fixed subset of the test split: at most ``samples`` images (default 2 000), a
random draw seeded with ``seed`` (``linear_probe.train_subset``: sorted indices, all samples when
the split is smaller). All samples are read, not only the correctly classified ones: CKA compares
representations, not what the model got right. The same dataset, ``samples`` and ``seed`` give the
same subset for every model, which is what makes CKA *between* models possible.

**Representations.** ``neutral`` = ``none`` (default): as the rule exposes them
(``ev.representations``), i.e. with the TRUE label embedded for rules that embed labels (FF,
BP/FF), the convention of the study reproduced in docs/negatives_study.md. ``uniform`` / ``zero``:
the linear probe's neutral label (plugins/metrics/linear_probe.py), for a comparison in which the
label pixels carry no answer; a model without an FF label embedding is then read through its own
label-free representations (and refused if they read y). The pixels are the normalised, flattened
test images, without any label.

**Rows** (descriptive, not ranked). Per layer l: ``cka_pixels`` (CKA of layer l with the input
pixels) and, for every deeper layer m > l, ``cka_layer<m>`` (CKA of layers l and m; each pair
once, the diagonal 1 by definition is left out). A layer pair is encoded in the stat name rather
than in ``cls`` / ``cls_b`` because those columns hold class names (the conformance suite and the
reports treat them so); ``layer`` keeps its meaning (the first layer of the pair) and a pivot of
the rows gives the upper triangle of the layer x layer matrix. Headline: ``cka_pixels``.

**Artifact** (for CKA between models, :func:`cka_between`): ``index`` (the test indices of the
subset, int64), ``rep_L<l>`` (layer l's representations of the subset, float16, divided by their
largest absolute value so that nothing overflows float16 (CKA is scale invariant); ``scale_L<l>``
holds that divisor, so rep * scale is the activity) and ``settings`` (dataset name and content
hash, samples, seed, neutral). At the default 2 000 samples a 3 x 1 000-unit model saves
2000 * 3000 * 2 bytes = 12 MB (uncompressed) per run point; lower ``samples`` to save less.

**Cost.** One n x D product per layer for its Gram (n = samples), then one n x n inner product per
pair: for 2 000 samples and 3 layers of 1 000 units about 25 GFLOP in float64, a few seconds on
one CPU core.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow
from ffbench.report.figure_api import FigureSpec
from ffbench_plugins.metrics.linear_probe import (
    check_label_free,
    representations_of,
    train_subset,
)

# ---------------------------------------------------------------------------------------
# Linear CKA
# ---------------------------------------------------------------------------------------


def centred_gram(x: torch.Tensor) -> torch.Tensor:
    """K = Xc Xc^T (float64, [n, n]) for x [n, p] with its column means subtracted (Xc)."""
    x = x.reshape(x.shape[0], -1).double()
    x = x - x.mean(dim=0, keepdim=True)
    return x @ x.T


def cka_from_grams(k: torch.Tensor, l: torch.Tensor) -> float:
    """<K, L>_F / (||K||_F ||L||_F) of two centred Gram matrices; NaN when either is all zero."""
    norm = float(torch.linalg.matrix_norm(k)) * float(torch.linalg.matrix_norm(l))
    if norm == 0.0:
        return math.nan
    return min(float((k * l).sum()) / norm, 1.0)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of x [n, p] and y [n, q] (the same n samples in the same order; module docstring)."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"linear CKA needs the same samples on both sides: got {x.shape[0]} and {y.shape[0]} rows")
    return cka_from_grams(centred_gram(x), centred_gram(y))


def cka_matrix(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> np.ndarray:
    """[len(xs), len(ys)] float64: linear CKA of every x with every y (same samples throughout)."""
    grams_y = [centred_gram(y) for y in ys]
    out = np.empty((len(xs), len(ys)))
    for i, x in enumerate(xs):
        k = centred_gram(x)
        for j, l in enumerate(grams_y):
            out[i, j] = cka_from_grams(k, l)
    return out


# ---------------------------------------------------------------------------------------
# CKA between models, from the metric's artifacts
# ---------------------------------------------------------------------------------------


def _parts(artifact: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(arrays, settings) of a saved artifact (``figure_api.Artifact``: ``.arrays`` / ``.meta``) or
    of ``MetricResult.artifacts`` as ``compute`` returned it (one mapping)."""
    if hasattr(artifact, "arrays"):
        return artifact.arrays, dict(getattr(artifact, "meta", {})).get("settings", {})
    if isinstance(artifact, Mapping):
        return artifact, artifact.get("settings", {})
    raise TypeError(
        f"expected a cka artifact (MetricResult.artifacts of metric 'cka' or a saved Artifact), "
        f"got {type(artifact).__name__}"
    )


def artifact_layers(artifact: Any) -> list[torch.Tensor]:
    """The float64 representations rep_L1, rep_L2, ... of a cka artifact (layer order)."""
    arrays, _ = _parts(artifact)
    found = sorted(int(k[len("rep_L") :]) for k in arrays if k.startswith("rep_L") and k[len("rep_L") :].isdigit())
    if not found:
        raise ValueError(f"not a cka artifact: it has no rep_L<layer> arrays (it has: {', '.join(sorted(arrays))})")
    return [torch.as_tensor(np.asarray(arrays[f"rep_L{layer}"])).double() for layer in found]


def cka_between(artifact_a: Any, artifact_b: Any) -> np.ndarray:
    """Linear CKA between every layer of model A (rows) and every layer of model B (columns),
    [L_A, L_B] float64, from the two models' ``cka`` artifacts. Both must hold the same test
    samples (same ``index``) of the same data (same content hash, when both record it): a
    ValueError says which differs (rerun ``cka`` with the same dataset, samples and seed)."""
    (arr_a, set_a), (arr_b, set_b) = _parts(artifact_a), _parts(artifact_b)
    if "index" not in arr_a or "index" not in arr_b:
        raise ValueError("not a cka artifact: no 'index' array (rerun metric 'cka' to save one)")
    idx_a, idx_b = np.asarray(arr_a["index"]), np.asarray(arr_b["index"])
    if idx_a.shape != idx_b.shape or not np.array_equal(idx_a, idx_b):
        raise ValueError(
            f"the two cka artifacts hold different test samples ({len(idx_a)} vs {len(idx_b)} indices, "
            "not the same): CKA between models needs the same samples; run 'cka' with the same "
            "dataset, samples and seed for both"
        )
    hash_a, hash_b = set_a.get("dataset_hash"), set_b.get("dataset_hash")
    if hash_a and hash_b and hash_a != hash_b:
        raise ValueError(
            f"the two cka artifacts come from different data ({set_a.get('dataset')} {hash_a} vs "
            f"{set_b.get('dataset')} {hash_b}): CKA between models needs the same test images"
        )
    return cka_matrix(artifact_layers(artifact_a), artifact_layers(artifact_b))


# ---------------------------------------------------------------------------------------
# The metric
# ---------------------------------------------------------------------------------------


def float16_scaled(h: torch.Tensor) -> tuple[np.ndarray, float]:
    """(h / s as float16, s) with s = max |h| (1 for an all-zero h): no float16 overflow."""
    s = float(h.abs().max()) if h.numel() else 0.0
    s = s if s > 0 else 1.0
    return (h.float() / s).half().numpy(), s


class CKA(Metric):
    name = "cka"
    version = "1"
    description = (
        "linear CKA (Kornblith et al. 2019) between every pair of layers and of each layer with the "
        "input pixels, on a seeded test subset; saves the subset's representations for CKA between models"
    )
    higher_is_better = None
    headline = ("cka_pixels",)
    stat_help = {
        "cka_pixels": "linear CKA of the layer with the input pixels, 0 .. 1; 1 = the pixels' geometry",
    }
    params = (
        Param(
            "samples",
            int,
            2000,
            "at most this many test images (a seeded random subset when the split is larger)",
            min=2,
        ),
        Param("seed", int, 0, "seed of the test subset (the same seed gives every model the same samples)"),
        Param(
            "neutral",
            str,
            "none",
            "label shown to rules that embed it: the true label as the rule's representations do (none), "
            "every label pixel value / C (uniform), or all label pixels 0 (zero)",
            choices=("none", "uniform", "zero"),
        ),
    )

    def layers_of(self, ev: Evaluation, index: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer activity [n, D_l] (CPU float32) of the test subset, as ``neutral`` says."""
        neutral = self.values["neutral"]
        if neutral == "none":
            return [h[index] for h in ev.representations]
        test = ev.data.test
        x, y = test.x[index.to(test.x.device)], test.y[index.to(test.y.device)]
        check_label_free(ev.model, x.to(ev.device), y.to(ev.device), len(ev.classes))
        return representations_of(ev, x, y, neutral)

    def compute(self, ev: Evaluation) -> MetricResult:
        v = self.values
        index = train_subset(len(ev.data.test), v["samples"], v["seed"])
        layers = self.layers_of(ev, index)
        pixels = ev.data.test.flat()[index.to(ev.data.test.x.device)].cpu()
        grams = [centred_gram(h.to(ev.device)) for h in layers]
        pixel_gram = centred_gram(pixels.to(ev.device))
        rows: list[MetricRow] = []
        for l, k in enumerate(grams, start=1):
            rows.append(MetricRow("cka_pixels", cka_from_grams(k, pixel_gram), layer=l))
            for m in range(l + 1, len(grams) + 1):
                rows.append(MetricRow(f"cka_layer{m}", cka_from_grams(k, grams[m - 1]), layer=l))
        artifacts: dict[str, Any] = {"index": index.numpy().astype(np.int64)}
        for l, h in enumerate(layers, start=1):
            artifacts[f"rep_L{l}"], scale = float16_scaled(h)
            artifacts[f"scale_L{l}"] = np.asarray([scale], dtype=np.float64)
        artifacts["settings"] = {
            "dataset": ev.data.name,
            "dataset_hash": ev.data.content_hash,
            "samples": len(index),
            "seed": v["seed"],
            "neutral": v["neutral"],
        }
        return MetricResult(rows, artifacts)

    @classmethod
    def figures(cls) -> list[FigureSpec]:
        from ffbench_plugins.metrics.cka_figures import FIGURES

        return FIGURES


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(CKA)
