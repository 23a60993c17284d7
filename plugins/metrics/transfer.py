"""Transfer by linear probe: how well a model trained on dataset A represents the images of
another dataset B (docs/science.md, "Metrics", going further), the study's MNIST -> Fashion-MNIST
protocol (docs/negatives_study.md) with a probe that cannot read the label.

**Protocol.** The model (trained on A, the run's dataset) is frozen. B (parameter ``dataset``,
loaded through the plugin registry as the runner loads datasets: data directory ``$FFBENCH_DATA``
or the default cache, downloading when allowed) must have A's image shape (channels, height,
width): otherwise a ValueError names both shapes. B's images are passed through the model with the
NEUTRAL label of ``linear-probe`` (``neutral``: uniform or zero; models without an FF label
embedding are read through their own label-free representations and refused if these read y), and
the ``linear-probe`` probe (plugins/metrics/linear_probe.py: standardised features, multinomial
logistic regression by full-batch L-BFGS, W = 0 start) is trained on the representations of at
most ``train_samples`` of B's training images (seeded subset) and scored on all of B's test
images, per layer. This module reuses that metric as it is: the numbers are ``linear-probe``'s on
B.

**Normalisation** (``normalise``). ``model`` (default): B's pixels are normalised with A's
per-channel mean and std, the statistics the model was trained with (what a deployed model does,
and what the study did: one MNIST normalisation for both sets). ``own``: B keeps its own
statistics (every input standardised as in training, a mild form of adaptation). The pixel
baseline is the same either way (the probe standardises every pixel).

**Rows.** Per layer: ``transfer_accuracy`` (the probe's accuracy on B's test images; headline,
higher is better) and ``transfer_train_accuracy`` (on its training images: a large gap means the
probe overfits). Layer None: ``pixel_accuracy``, the same probe on B's flattened images, the
baseline a layer is compared with. No per-class rows: B's classes are not the model's.

**Data on this machine.** ``mnist`` (the default target, for models trained on the Fashion-MNIST
sets) is read by torchvision and downloaded on first use; without network it must already be in
the data directory. ``fashion-mnist`` is also read from Debian's package, and
``fashion-mnist-mini`` is embedded. Nested brackets do not parse in a component spec, so on the
command line ``dataset`` is a dataset name with its default parameters
(``transfer[dataset=fashion-mnist]``); the probe's ``train_samples`` caps B's training images.

**Cost.** Loading B (once per process), one forward pass over ``train_samples`` + B's test
images, and one probe fit per layer plus one for the pixels (see ``linear-probe``).
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import DatasetBundle, DataSplit, Evaluation, Metric, MetricResult, MetricRow
from ffbench.errors import ParameterError, UnknownComponentError
from ffbench.registry import get_registry
from ffbench_plugins.metrics.linear_probe import PROBE_PARAMS, LinearProbe

#: stat of linear-probe -> stat of transfer (rows of other stats, and per-class rows, are dropped)
STATS = {
    "accuracy": "transfer_accuracy",
    "train_accuracy": "transfer_train_accuracy",
    "pixel_accuracy": "pixel_accuracy",
}

#: target datasets loaded in this process, by identity (CPU tensors, as loaded)
_TARGETS: dict[str, DatasetBundle] = {}


def build_dataset(spec: str):
    """The registered dataset component named by ``spec``; a clear error for a bad name or spec."""
    try:
        return get_registry().build("dataset", spec)
    except (ParameterError, UnknownComponentError) as exc:
        raise ParameterError(f"Bad value {spec!r} for parameter 'transfer.dataset': {exc}") from None


def load_target(spec: str) -> DatasetBundle:
    """Dataset B as its plugin loads it (default data directory, downloading when needed), cached."""
    dataset = build_dataset(spec)
    if dataset.identity not in _TARGETS:
        _TARGETS[dataset.identity] = dataset.load(None, True)
    return _TARGETS[dataset.identity]


def renormalised(split: DataSplit, source: DatasetBundle, target: DatasetBundle) -> DataSplit:
    """``split`` (normalised with ``source``'s per-channel statistics) normalised with ``target``'s."""
    shape = (1, -1, 1, 1)
    mean_s, std_s = torch.tensor(source.mean).view(shape), torch.tensor(source.std).view(shape)
    mean_t, std_t = torch.tensor(target.mean).view(shape), torch.tensor(target.std).view(shape)
    x = split.x.cpu().float()
    return DataSplit(((x * std_s + mean_s) - mean_t) / std_t, split.y.cpu())


def as_model_input(b: DatasetBundle, a: DatasetBundle, normalise: str) -> DatasetBundle:
    """B ready for a model trained on A: same shape checked, normalised as ``normalise`` says."""
    if tuple(b.shape) != tuple(a.shape):
        raise ValueError(
            f"transfer: the model was trained on '{a.name}' images of shape (C, H, W) = {tuple(a.shape)}, "
            f"but dataset '{b.name}' has {tuple(b.shape)}; choose a target dataset with the same image shape"
        )
    if normalise == "own":
        return b
    return DatasetBundle(
        b.name,
        renormalised(b.train, b, a),
        renormalised(b.test, b, a),
        b.classes,
        b.shape,
        a.mean,
        a.std,
        b.content_hash,
        b.source,
    )


class Transfer(Metric):
    name = "transfer"
    version = "1"
    description = (
        "accuracy of linear-probe's probe on another dataset's images passed through the model "
        "(neutral label), per layer; pixel baseline"
    )
    higher_is_better = True
    headline = ("transfer_accuracy",)
    stat_help = {
        "transfer_accuracy": "linear-probe accuracy on the other dataset's test images, 0 .. 1",
    }
    params = (
        Param("dataset", str, "mnist", "the target dataset B (a dataset name, e.g. mnist, fashion-mnist)"),
        Param(
            "normalise",
            str,
            "model",
            "B's pixels normalised with the training data's statistics (model) or B's own (own)",
            choices=("model", "own"),
        ),
        *PROBE_PARAMS,
    )
    presets = {"tiny": {"dataset": "fashion-mnist-mini", "train_samples": 300, "steps": 20}}

    def __init_component__(self) -> None:
        build_dataset(self.values["dataset"])  # an unknown dataset fails before any training

    def compute(self, ev: Evaluation) -> MetricResult:
        v = self.values
        target = as_model_input(load_target(v["dataset"]), ev.data, v["normalise"])
        probe = LinearProbe.from_spec({p.name: v[p.name] for p in PROBE_PARAMS})
        result = probe.compute(Evaluation(ev.model, target, ev.device, ev.batch_size))
        rows = [
            MetricRow(STATS[r.stat], r.value, layer=r.layer) for r in result.rows if r.stat in STATS and r.cls is None
        ]
        settings = dict(result.artifacts["settings"])
        settings.update(
            dataset=target.name,
            dataset_identity=build_dataset(v["dataset"]).identity,
            dataset_hash=target.content_hash,
            normalise=v["normalise"],
            test_samples=len(target.test),
        )
        return MetricResult(rows, {"settings": settings})


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(Transfer)
