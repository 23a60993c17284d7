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
        "paper-fashion-analysed",
        "1",
        "FF on the full Fashion-MNIST at the setting of the run the authors' notebooks analyse (200 epochs "
        "per layer at lr 1e-3, batch 1024; their Fashion-MNIST table holds 13 FF runs and picks this one), "
        "not the paper's written recipe (100 epochs at lr 0.01, suite paper-fashion); every paper metric "
        "and the per-layer linear probe (neutral label); 3 seeds. docs/science.md.",
        metrics=(*PAPER_METRICS, "excitation[skip_inputs=10]", "linear-probe"),
        entries=(SuiteEntry(rules=("ff[epochs=200,lr=0.001]",), datasets=("fashion-mnist",), preset="paper"),),
    ),
    Suite(
        "paper-fashion-controls",
        "1",
        "The controls every paper-scale representation number is read against, on the full Fashion-MNIST: "
        "the untrained random network of the paper's shape (784-1000-1000-1000; only a linear readout is "
        "trained), and the per-layer linear probe (layer 0 = the pixels) of ff, bp-ff and bp at the paper "
        "settings; 3 seeds. docs/science.md.",
        metrics=("accuracy", "sparsity", "loo-ensembles", "jaccard", "excitation", "linear-probe"),
        entries=(
            SuiteEntry(rules=("random",), datasets=("fashion-mnist",), preset="paper"),
            SuiteEntry(rules=_RULES, datasets=("fashion-mnist",), preset="paper"),
        ),
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


#: Shah & Tripathi's FF training (docs/goodness_study.md, "Running the study's setup in ffbench")
GOODNESS_STUDY_FF = (
    "ff[layers=4,width=2000,layer_norm=rms,peer_norm=0.03,optimizer=sgd,lr=0.001,momentum=0.9,"
    "weight_decay=0.0003,epochs=20,batch_size=100,schedule=simultaneous,activation=relu-st,lr_schedule=cooldown]"
)
#: sumsq and the study's 13 other distinct goodness functions (7 published names are sumsq)
GOODNESS_STUDY_GOODNESS = (
    "sumsq",
    "gs-sparse-l1",
    "gs-huber-norm",
    "gs-oja",
    "gs-outlier-trimmed",
    "gs-attention-weighted",
    "gs-game-theoretic",
    "gs-fractal-dimension",
    "gs-info-nce",
    "gs-decorrelation",
    "gs-softmax-energy-margin",
    "gs-triplet-margin",
    "gs-bcm",
    "gs-predictive-coding",
)
#: the negatives study's final comparison (docs/negatives_study.md, "The study's setup")
NEGATIVES_STUDY_FF = "ff[layers=2,width=500,lr=0.03,epochs=1000,batch_size=60000,schedule=greedy]"
NEGATIVES_STUDY_METRICS = ("accuracy", "sparsity", "linear-probe", "cka", "transfer[dataset=mnist]", "cost")

#: The CPU slices (docs/studies.md, "The slices run here, and why"): what 2 CPU cores run in about an hour for each
#: study, 3 seeds. Goodness: layers of 500 units instead of 2 000 on the embedded 10 000 / 2 000
#: images. Negatives: the protocol's 1 000 full-batch epochs per layer on 2 000 embedded training
#: images (version 1 trained 300: too short, docs/studies.md), and no transfer metric (its MNIST
#: target cannot be read offline).
GOODNESS_STUDY_CPU_FF = GOODNESS_STUDY_FF.replace("width=2000", "width=500")
NEGATIVES_STUDY_CPU_METRICS = tuple(m for m in NEGATIVES_STUDY_METRICS if not m.startswith("transfer"))


def _goodness_study(name: str, dataset: str, scale: str, ff: str = GOODNESS_STUDY_FF) -> Suite:
    return Suite(
        name,
        "2",
        "Shah & Tripathi's goodness-function study, its protocol as the preset (4 x 2000, RMS norm, "
        "straight-through ReLU, peer norm 0.03, SGD 1e-3 momentum 0.9, 20 epochs, batch 100, lr "
        "cool-down, wrong labels redrawn every epoch, simultaneous schedule): sumsq and the 13 other "
        f"distinct goodness functions, {scale}, 3 seeds; accuracy, sparsity, linear probe per layer and "
        "on layers 2-4 together (the study's readout), and cost. docs/goodness_study.md. Version 2 adds "
        "the layers 2-4 probe.",
        metrics=("accuracy", "sparsity", "linear-probe[concat=2-4]", "cost"),
        entries=(
            SuiteEntry(
                rules=(ff,),
                goodness=GOODNESS_STUDY_GOODNESS,
                negatives=("wrong-label[resample=true]",),
                datasets=(dataset,),
                preset="paper",
            ),
        ),
    )


def _negatives_study(
    name: str,
    dataset: str,
    scale: str,
    metrics: tuple[str, ...] = NEGATIVES_STUDY_METRICS,
    version: str = "1",
) -> Suite:
    return Suite(
        name,
        version,
        "The negatives study (Beyond Backpropagation), its protocol as the preset (784-500-500, "
        "mean-of-squares goodness theta 2, Adam 0.03, 1000 full-batch epochs per layer, greedy, "
        "negatives drawn once): its six strategies with labels, and the earlier library's "
        f"label-free ones with label-free FF; {scale}, 3 seeds; {', '.join(metrics)} (the linear "
        "probe reads the activity for a neutral label). docs/negatives_study.md.",
        metrics=metrics,
        entries=(
            SuiteEntry(
                rules=(NEGATIVES_STUDY_FF,),
                goodness=("meansq[threshold=2.0]",),
                negatives=(
                    "wrong-label",
                    "ns-class-confusion",
                    "ns-same-class",
                    "ns-hybrid-mix",
                    "ns-noise",
                    "ns-masking",
                ),
                datasets=(dataset,),
                preset="paper",
            ),
            SuiteEntry(
                rules=(NEGATIVES_STUDY_FF.replace("ff[", "ff[label=none,"),),
                goodness=("meansq[threshold=2.0]",),
                negatives=("ns-image-mix", "ns-class-aware-mix", "ns-random-noise", "ns-mask"),
                datasets=(dataset,),
                preset="paper",
            ),
        ),
    )


STUDY_SUITES = (
    _goodness_study("goodness-study", "fashion-mnist", "full Fashion-MNIST (60 000 / 10 000)"),
    _goodness_study(
        "goodness-study-mini", "fashion-mnist-mini", "a documented slice: the embedded 10 000 / 2 000 subset"
    ),
    _negatives_study("negatives-study", "fashion-mnist", "full Fashion-MNIST (60 000 / 10 000)"),
    _negatives_study(
        "negatives-study-mini",
        "fashion-mnist-mini",
        "a documented slice: the embedded 10 000 / 2 000 subset (full batch = 10 000)",
    ),
    _goodness_study(
        "goodness-study-cpu",
        "fashion-mnist-mini",
        "the slice 2 CPU cores run in about an hour: layers of 500 units (not 2 000) on the embedded "
        "10 000 / 2 000 subset (docs/studies.md)",
        GOODNESS_STUDY_CPU_FF,
    ),
    _negatives_study(
        "negatives-study-cpu",
        "fashion-mnist-mini[train_size=2000]",
        "the slice 2 CPU cores run in about an hour: 2 000 embedded training images (test: the embedded "
        "2 000), no transfer metric (MNIST is not readable offline); version 2 trains the protocol's 1 000 "
        "epochs per layer, version 1 trained 300 (docs/studies.md)",
        NEGATIVES_STUDY_CPU_METRICS,
        "2",
    ),
)


@ffbench.hookimpl
def ffbench_register_suites(register):
    for suite in SUITES + STUDY_SUITES:
        register(suite)
