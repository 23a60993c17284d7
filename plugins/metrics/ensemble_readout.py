"""Ensemble readout (docs/science.md, "Metrics", going further): does a layer's class information live in
its category-specific ensembles? Per layer, the linear-probe accuracy from the ensemble units only,
against the probe accuracy from as many randomly chosen units of the same layer.

**Units.** E = the union over classes of the layer's leave-one-out ensembles E_c, exactly as
``loo-ensembles`` reports them (``ensembles.loo_ensembles`` on the class means of the samples read,
with the same ``tau`` and ``samples`` parameters and defaults: the correctly classified test samples,
true label embedded). k = |E|. The control draws k units uniformly without replacement from the
layer's ``pool``: ``live`` (default) = the units not zero on every sample the ensembles were defined
on (every ensemble unit is live, so k never exceeds the pool; dead units would carry nothing and make
any k live units look good), or ``all`` units. Ensemble units may be drawn too. ``draws`` (default 5)
draws, from a generator seeded with ``seed``, one after the other over the layers.

**Probe.** The ``linear-probe`` metric's probe (``linear_probe.fit_probe``: standardised features,
full-batch L-BFGS logistic regression, ``steps``, ``weight_decay``), trained on the neutral-label
activity of at most ``train_samples`` training images and scored on every test sample (the same
features as ``linear-probe``: ``linear_probe.probe_features``), restricted to the chosen columns.

**Rows**, per layer: ``ensemble_acc`` (probe on the k ensemble units), ``random_acc`` (mean over the
draws of the probe on k random units; ``random_std``, their population std), ``gap`` =
ensemble_acc - random_acc, ``units`` = k and ``fraction`` = k / D. A layer without ensemble units
(k = 0) has no readout: NaN accuracies and gap. When the pool holds exactly k units every draw is the
ensemble itself and the gap is 0. Descriptive (not ranked); headline ``ensemble_acc``, ``random_acc``,
``gap``.

The ensembles are chosen on the test split and the probe scored on it too; the choice reads only the
C class means of each unit, not single samples, so the advantage this gives the ensemble is small,
but it is not zero.

**Cost.** ``linear-probe``'s feature pass, then per layer 1 + ``draws`` probe fits on k columns.
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow
from ffbench_plugins.metrics.ensembles import SAMPLES, TAU, loo_ensembles, per_layer_means
from ffbench_plugins.metrics.linear_probe import PROBE_PARAMS, probe_correct, probe_features
from ffbench_plugins.metrics.sparsity import dead_units


class EnsembleReadout(Metric):
    name = "ensemble-readout"
    version = "1"
    description = (
        "linear-probe accuracy from each layer's LOO ensemble units only, against as many random units of the layer"
    )
    higher_is_better = None
    headline = ("ensemble_acc", "random_acc", "gap")
    stat_help = {
        "ensemble_acc": "probe accuracy from the layer's ensemble units only, 0 .. 1",
        "random_acc": "probe accuracy from as many random units of the layer, 0 .. 1",
        "gap": "ensemble_acc - random_acc, -1 .. 1; > 0 = the ensembles carry more class information",
    }
    params = (
        TAU,
        SAMPLES,
        Param("draws", int, 5, "random unit sets per layer for the control", min=1),
        Param(
            "pool", str, "live", "units the control draws from: the layer's live units, or all", choices=("live", "all")
        ),
    ) + PROBE_PARAMS

    def compute(self, ev: Evaluation) -> MetricResult:
        v = self.values
        keep = ev.sample_mask(v["samples"])
        data = probe_features(ev, v["train_samples"], v["seed"], v["neutral"])
        gen = torch.Generator().manual_seed(v["seed"])
        train_y, test_y = data.train_y.to(ev.device), data.test_y.to(ev.device)
        rows: list[MetricRow] = []
        artifacts: dict = {}

        def accuracy(train_h: torch.Tensor, test_h: torch.Tensor, cols: torch.Tensor) -> float:
            correct, _ = probe_correct(
                train_h[:, cols].to(ev.device),
                train_y,
                test_h[:, cols].to(ev.device),
                test_y,
                len(ev.classes),
                v["steps"],
                v["weight_decay"],
            )
            return float(correct.float().mean())

        for layer, m in enumerate(per_layer_means(ev, keep, self.name), start=1):
            units = torch.nonzero(loo_ensembles(m, v["tau"]).any(dim=0)).flatten()
            train_h, test_h = data.train[layer - 1], data.test[layer - 1]
            d, k = test_h.shape[1], len(units)
            if v["pool"] == "live":
                pool = torch.nonzero(~dead_units(ev.representations[layer - 1][keep])).flatten()
            else:
                pool = torch.arange(d)
            rows += [MetricRow("units", float(k), layer=layer), MetricRow("fraction", k / d, layer=layer)]
            artifacts[f"units_L{layer}"] = units.tolist()
            if k == 0:
                rows += [MetricRow(s, float("nan"), layer=layer) for s in ("ensemble_acc", "random_acc", "gap")]
                continue
            ens = accuracy(train_h, test_h, units)
            rand = torch.tensor(
                [
                    accuracy(train_h, test_h, pool[torch.randperm(len(pool), generator=gen)[:k]].sort().values)
                    for _ in range(v["draws"])
                ],
                dtype=torch.float64,
            )
            rows += [
                MetricRow("ensemble_acc", ens, layer=layer),
                MetricRow("random_acc", float(rand.mean()), layer=layer),
                MetricRow("random_std", float(rand.std(unbiased=False)), layer=layer),
                MetricRow("gap", ens - float(rand.mean()), layer=layer),
            ]
        return MetricResult(rows, artifacts)


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(EnsembleReadout)
