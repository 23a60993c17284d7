"""The built-in suites (``ffbench run --suite NAME``), registered like any plugin's suites
through the ``ffbench_register_suites`` hook. See ffbench/suites.py for what a suite is."""

from __future__ import annotations

import ffbench
from ffbench.suites import Suite, SuiteEntry

#: The metrics every paper figure is built from (unseen-category trains a second model per point).
PAPER_METRICS = ("accuracy", "sparsity", "loo-ensembles", "jaccard", "unseen-category", "excitation")


_RULES = ("ff", "bp-ff", "bp")

SUITES: tuple[Suite, ...] = (
    Suite(
        "quick",
        "3",
        "ff, bp-ff and bp (quick preset: each rule's lr / epochs / batch size chosen by the measured sweep in "
        "docs/science.md) on the embedded Fashion-MNIST subset, 3 seeds: minutes on a laptop, no download; "
        "the suite the scheduled leaderboard update runs.",
        metrics=("accuracy", "sparsity", "loo-ensembles", "jaccard", "excitation"),
        entries=(SuiteEntry(rules=_RULES, datasets=("fashion-mnist-mini",)),),
    ),
    Suite(
        "ci-smoke",
        "1",
        "Two tiny models (ff and bp, 2 layers of 64 units, 1 epoch) on 1 000 embedded images, 2 seeds: "
        "seconds; exercises the leaderboard pipeline in CI, not a benchmark.",
        metrics=("accuracy", "sparsity"),
        entries=(
            SuiteEntry(
                rules=("ff[layers=2,width=64,epochs=1]", "bp[layers=2,width=64,epochs=1]"),
                datasets=("fashion-mnist-mini[train_size=1000,test_size=500]",),
                seeds=(0, 1),
            ),
        ),
    ),
    Suite(
        "paper-fashion",
        "2",
        "Tosato et al.'s comparison on the full Fashion-MNIST with the paper settings (docs/science.md): ff "
        "(Adam 0.01, batch 1024, 100 epochs per layer), bp-ff (1e-4, 300 epochs), bp (1e-4, 80 epochs, batch "
        "2048); l2 goodness, wrong-label negatives; every paper metric (unseen-category holds out Sandal); "
        "3 seeds. Hours on 2 CPU cores per point, minutes on a GPU.",
        metrics=PAPER_METRICS,
        entries=(SuiteEntry(rules=_RULES, datasets=("fashion-mnist",), preset="paper"),),
    ),
    Suite(
        "paper-mnist",
        "2",
        "The same comparison on MNIST. ff: 200 epochs at lr 1e-3 (batch 1024), the run the authors' "
        "notebooks analyse (their configuration file says 1200 epochs at lr 0.01: "
        "--param ff.epochs=1200 --param ff.lr=0.01); bp-ff and bp: paper settings; 3 seeds.",
        metrics=PAPER_METRICS,
        entries=(SuiteEntry(rules=("ff[epochs=200,lr=0.001]", "bp-ff", "bp"), datasets=("mnist",), preset="paper"),),
    ),
    Suite(
        "zoo",
        "2",
        "Which learning rules form sparse, class-selective ensembles? ff, bp-ff and bp next to mono-forward, "
        "dfa, cafo, pepita and the untrained random control (each rule's quick preset, docs/rules.md), on "
        "the embedded Fashion-MNIST subset, 3 seeds, with the representation analyses: sparsity (dead "
        "units, live Hoyer), LOO ensembles (activity share, selectivity), Jaccard, per-layer linear probe "
        "(neutral label for label-embedding rules), effective dimensionality, the ensemble readout and "
        "the training cost (seconds, analytic FLOPs, peak memory). Version 2 adds cost.",
        metrics=(
            "accuracy",
            "sparsity",
            "loo-ensembles",
            "jaccard",
            "linear-probe",
            "dimensionality",
            "ensemble-readout",
            "cost",
        ),
        # seed 0 of every rule first, then seeds 1-2: an interrupted run (--resume) has every rule
        entries=tuple(
            SuiteEntry(
                rules=("ff", "bp", "mono-forward", "dfa", "cafo", "pepita", "random", "bp-ff"),
                datasets=("fashion-mnist-mini",),
                seeds=seeds,
            )
            for seeds in ((0,), (1, 2))
        ),
    ),
    Suite(
        "dc-sff",
        "1",
        "Dimensionality compression with the Stochastic Forward-Forward reference settings (projection dims "
        "30/20/10, last-layer energy readout for 60 epochs with cosine decay from 2.5e-4; AdamW 1e-3, "
        "weight decay 0.01, cosine, 3 epochs per layer) on the embedded data, next to the same readout on "
        "raw pixels (pixel-readout); 3 seeds.",
        metrics=("accuracy", "pixel-readout", "sparsity"),
        entries=(
            SuiteEntry(
                rules=("ff[optimizer=adamw,lr=0.001,weight_decay=0.01,lr_schedule=cosine,epochs=3]",),
                goodness=(
                    "dimcompress[proj_dims=30/20/10,readout_layers=last,readout_epochs=60,"
                    "readout_lr=0.00025,readout_schedule=cosine]",
                ),
                negatives=("none",),
                datasets=("fashion-mnist-mini",),
            ),
        ),
    ),
)


@ffbench.hookimpl
def ffbench_register_suites(register):
    for suite in SUITES:
        register(suite)
