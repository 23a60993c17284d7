"""The raw-pixel baseline of the dimensionality-compression readout (docs/science.md, "Dimensionality
compression (DC) goodness": "a linear readout on the raw pixels is the baseline any learned
features must beat").

The same energy readout the ``dimcompress`` goodness fits on a network's frozen features
(:class:`~ffbench_plugins.goodness.dimcompress.EnergyReadout`: dropout 0.5, Linear, class energy
s_c = sum over K noisy copies of z_c^2 / (K-1), cross-entropy on s, prediction argmax s), fitted
on the normalised, flattened training images with the same noisy copies, and read on the test
images (noisy copies drawn as the model's own predictions draw them: per batch of
``Evaluation.batch_size`` images, from the fixed test-noise seed). Stat ``pixel_readout``: its
test accuracy, overall and per class, reported next to every ``accuracy`` row of the run point.

Settings: when the evaluated model's goodness (``ev.model.goodness``, as the FF network keeps it)
is a ``dimcompress`` goodness and ``from_goodness`` is true (default), the readout uses *its*
copies, noise, p, noise_std, readout_epochs, readout_lr, readout_batch_size, readout_schedule and
readout_weight_decay (so the baseline of each dimcompress row is trained exactly as that row's
readout); otherwise the metric's own parameters of the same names (defaults: dimcompress's). The
artifact ``pixel-readout.json`` records the settings used and where they came from
(``source``: 'goodness' or 'metric').

Deterministic given ``seed`` (the readout's initialisation, batch order, training noise and
dropout come from a generator seeded with it; the global RNG is restored afterwards). The result
does not depend on the model, only on the data and the settings, so it is memoised per process
(by dataset content hash, sizes, device, settings and seed): a suite's many run points on one
dataset train it once.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow, TrainContext
from ffbench_plugins.goodness.dimcompress import DimCompressGoodness

#: the dimcompress parameters the pixel readout is trained with (all it reads of the goodness)
READOUT_KEYS = (
    "copies",
    "noise",
    "p",
    "noise_std",
    "readout_epochs",
    "readout_lr",
    "readout_batch_size",
    "readout_schedule",
    "readout_weight_decay",
)

#: rows of recent computations: (data, device, batch size, settings, seed) -> rows
_MEMO: OrderedDict[tuple, list[MetricRow]] = OrderedDict()
MEMO_SIZE = 8


def _own_params() -> tuple[Param, ...]:
    """dimcompress's Params for READOUT_KEYS (same names, types, defaults and limits)."""
    schema = DimCompressGoodness.param_map()
    return tuple(
        dataclasses.replace(
            schema[k], help=schema[k].help + " (when the model's goodness is not dimcompress, or from_goodness=false)"
        )
        for k in READOUT_KEYS
    )


class PixelReadout(Metric):
    name = "pixel-readout"
    version = "2"
    description = (
        "test accuracy of dimcompress's energy readout trained on the noisy raw pixels (the "
        "baseline learned features must beat), overall and per class"
    )
    higher_is_better = True
    headline = ("pixel_readout",)
    stat_help = {
        "pixel_readout": "test accuracy of the energy readout on the raw pixels (the baseline), 0 .. 1",
    }
    params = _own_params() + (
        Param(
            "from_goodness",
            bool,
            True,
            "use the evaluated model's dimcompress goodness's readout "
            "settings when it has one (else this metric's own)",
        ),
        Param("seed", int, 0, "seed of the readout's initialisation, batch order, noise and dropout"),
    )

    def settings(self, ev: Evaluation) -> tuple[dict[str, Any], str]:
        """(readout settings, 'goodness' or 'metric'): the model's dimcompress goodness's, or ours."""
        goodness = getattr(ev.model, "goodness", None)
        if self.values["from_goodness"] and isinstance(goodness, DimCompressGoodness):
            return {k: goodness.values[k] for k in READOUT_KEYS}, "goodness"
        return {k: self.values[k] for k in READOUT_KEYS}, "metric"

    def compute(self, ev: Evaluation) -> MetricResult:
        settings, source = self.settings(ev)
        seed, data = self.values["seed"], ev.data
        key = (
            data.name,
            data.content_hash,
            len(data.train),
            len(data.test),
            str(ev.device),
            ev.batch_size,
            tuple(sorted(settings.items())),
            seed,
        )
        if key not in _MEMO:
            correct = self._correct(ev, settings, seed)
            rows = [MetricRow("pixel_readout", float(correct.float().mean()))]
            y = data.test.y.cpu()
            for c, cls in enumerate(ev.classes):
                mask = y == c
                if mask.any():
                    rows.append(MetricRow("pixel_readout", float(correct[mask].float().mean()), cls=cls))
            _MEMO[key] = rows
            while len(_MEMO) > MEMO_SIZE:
                _MEMO.popitem(last=False)
        _MEMO.move_to_end(key)
        return MetricResult(
            [dataclasses.replace(r) for r in _MEMO[key]], {"settings": {**settings, "source": source, "seed": seed}}
        )

    @staticmethod
    def _correct(ev: Evaluation, settings: dict[str, Any], seed: int) -> torch.Tensor:
        """[N_test] bool: the pixel readout's test predictions are right (CPU)."""
        device, data = ev.device, ev.data
        goodness = DimCompressGoodness(**settings)
        data = dataclasses.replace(data, train=data.train.to(device), test=data.test.to(device))
        forked = (
            [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
        )
        # the readout's numbers come from ctx.generator only, but building its nn.Linear advances
        # torch's global RNG: a metric leaves the caller's RNG stream as it was
        with torch.random.fork_rng(devices=forked):
            ctx = TrainContext(
                device=device, seed=seed, train_classes=list(range(data.num_classes)), num_classes=data.num_classes
            )
            readout = goodness.fit_pixel_readout(data, ctx)
        x, preds = data.test.flat(), []
        with torch.no_grad():
            for i in range(0, len(x), ev.batch_size):
                xb = x[i : i + ev.batch_size]
                preds.append(readout.predict([goodness.augment(xb)], len(xb)).cpu())
        return torch.cat(preds) == data.test.y.cpu()


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(PixelReadout)
