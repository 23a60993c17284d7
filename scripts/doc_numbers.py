"""Every result number of README.md and docs/science.md, printed from the committed boards.

    python scripts/doc_numbers.py            # rewrite the generated blocks in place
    python scripts/doc_numbers.py --check    # exit 1 (naming the block) if a block differs from the boards

A generated block sits between ``<!-- numbers:NAME -->`` and ``<!-- /numbers:NAME -->``; its text
is what :data:`BLOCKS` ``[NAME]`` prints from the boards (leaderboards/*.parquet) and from the
authors' published runs (docs/reference/tosato-fashion-mnist-runs.csv). tests/test_doc_numbers.py
runs the check, and fails when a result section of README.md holds a number outside a block.

Statistics: mean ± sample std (ddof 1) over seeds, n = seeds. Orders in the prose come from the
boards' separation test (ffbench.leaderboard.separation: paired t over shared seeds, Welch
otherwise, two-sided 0.05 per pair); a configuration with fewer than 3 seeds is preliminary and
never ordered.
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ffbench.leaderboard.separation import MIN_SEEDS, compare

ROOT = Path(__file__).resolve().parent.parent
PAPER_BOARD = ROOT / "leaderboards" / "fashion-mnist.parquet"
MINI_BOARD = ROOT / "leaderboards" / "fashion-mnist-mini.parquet"
SWEEP_BOARD = ROOT / "leaderboards" / "quick-preset-sweep" / "fashion-mnist-mini.parquet"
CONDITIONS_BOARD = ROOT / "leaderboards" / "layer1-conditions" / "fashion-mnist-mini.parquet"
AUTHORS = ROOT / "docs" / "reference" / "tosato-fashion-mnist-runs.csv"
DOCS = (
    ROOT / "README.md",
    ROOT / "docs" / "findings.md",
    ROOT / "docs" / "science.md",
    ROOT / "docs" / "precision.md",
)


# -- configurations of the paper-scale board ------------------------------------------------------


@dataclass(frozen=True)
class Config:
    label: str
    rule: str  # rule name
    params: tuple[str, ...] = ()  # "key=value" that the rule id must contain
    precision: str = "fp32"  # a bf16 row of the same components is another configuration

    def matches(self, rule_id: str) -> bool:
        name, _, rest = rule_id.partition("[")
        keys = set(rest.rstrip("]").split(","))
        return name == self.rule and all(p in keys for p in self.params)


FF_WRITTEN = Config("FF (written recipe)", "ff", ("epochs=100", "lr=0.01", "batch_size=1024"))
FF_ANALYSED = Config("FF (analysed setting)", "ff", ("epochs=200", "lr=0.001", "batch_size=1024"))
BPFF = Config("BP/FF", "bp-ff", ("epochs=300", "lr=0.0001"))
BP = Config("BP", "bp", ("epochs=80", "lr=0.0001"))
RANDOM = Config("random (untrained)", "random", ())
BPFF_FAST = Config("BP/FF at lr 3e-4", "bp-ff", ("epochs=300", "lr=0.0003"))
PAPER_CONFIGS = (FF_WRITTEN, FF_ANALYSED, BPFF, BP, RANDOM)
#: Configurations whose input has no label pixels (their layer 1 reads the image only).
LABEL_FREE = (BP, RANDOM)


def board(path: Path | None = None) -> pd.DataFrame:
    return _read(PAPER_BOARD if path is None else path).copy()


@functools.lru_cache(maxsize=8)
def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def of_config(df: pd.DataFrame, config: Config) -> pd.Series:
    """Rows of ``config`` (matched once per distinct rule id)."""
    hit = {r: config.matches(r) for r in df["rule_id"].dropna().unique()}
    precision = df["precision"].astype("string").fillna("fp32") if "precision" in df else "fp32"
    return df["rule_id"].map(hit).fillna(False).astype(bool) & (precision == config.precision)


def values(
    df: pd.DataFrame, config: Config, metric: str, stat: str, layer: int | None = None, metric_id: str | None = None
) -> dict[int, float]:
    """seed -> value of one cell (the class-free row). ``metric`` is a base name; ``metric_id`` picks
    one parametrisation where a board holds several (excitation: skip_inputs=0 unless named)."""
    rows = df[of_config(df, config) & (df["metric"] == metric) & (df["stat"] == stat)]
    rows = rows[rows["class"].isna() & rows["class_b"].isna()]
    rows = rows[rows["layer"].isna()] if layer is None else rows[rows["layer"] == layer]
    if metric_id is not None:
        rows = rows[rows["metric_id"] == metric_id]
    elif metric == "excitation":
        rows = rows[rows["metric_id"].str.contains("skip_inputs=0", regex=False)]
    rows = rows.sort_values("started_at")
    return {int(s): float(v) for s, v in rows.groupby("seed")["value"].last().items()}


def sig2(x: float) -> str:
    """A spread to 2 significant digits."""
    if x == 0 or not math.isfinite(x):
        return "0"
    digits = max(0, 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{digits}f}"


def mean_std(vals: dict[int, float], fmt: str = "{:.3f}", n_config: int | None = None) -> str:
    """mean ± std; "(n=k)" only where the cell has fewer seeds than its configuration."""
    xs = [v for v in vals.values() if math.isfinite(v)]
    if not xs:
        return "–"
    m = fmt.format(sum(xs) / len(xs))
    note = "" if n_config is None or len(xs) == n_config else f" (n={len(xs)})"
    if len(xs) == 1:
        return m + note
    return f"{m} ± {sig2(pd.Series(xs).std())}" + note


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def label(cfg: Config, n: int) -> str:
    return cfg.label if n >= MIN_SEEDS else f"{cfg.label}, preliminary"


def seeds(df: pd.DataFrame, config: Config) -> list[int]:
    rows = df[of_config(df, config) & (df["metric"] == "accuracy")]
    return sorted(int(s) for s in rows["seed"].dropna().unique())


# -- the authors' runs ------------------------------------------------------------------------------


def authors() -> pd.DataFrame:
    with AUTHORS.open(encoding="utf-8") as f:
        return pd.DataFrame(list(csv.DictReader(f))).astype({"hoyer": float, "accuracy": float, "layer": int})


def authors_run(rule: str, **where: str) -> dict[int, float]:
    a = authors()
    a = a[a["rule"] == rule]
    for k, v in where.items():
        a = a[a[k] == v]
    return dict(zip(a["layer"], a["hoyer"], strict=True))


def authors_range(rule: str, layer: int) -> tuple[float, float, int]:
    a = authors()
    a = a[(a["rule"] == rule) & (a["layer"] == layer)]
    return a["hoyer"].min(), a["hoyer"].max(), len(a)


# -- verdicts ---------------------------------------------------------------------------------------


def verdict(df: pd.DataFrame, a: Config, b: Config, metric: str, stat: str, layer: int | None) -> str:
    """'a > b', 'a < b', 'a ≈ b (not separated; ...)' or 'preliminary (n=...)' by the boards' test."""
    s = compare(values(df, a, metric, stat, layer), values(df, b, metric, stat, layer))
    if not s.test:
        return f"not tested ({s.reason}: {a.label} n={s.n_a}, {b.label} n={s.n_b})"
    if s.separated:
        sign = ">" if s.sign > 0 else "<"
        return f"{a.label} {sign} {b.label} ({s.test}, p = {s.p:.2g}, difference {s.difference:+.3f})"
    return (
        f"{a.label} ≈ {b.label}: not separated ({s.test}, p = {s.p:.2g}; difference {s.difference:+.3f}, "
        f"separable from {s.smallest:.3f})"
    )


# -- blocks -----------------------------------------------------------------------------------------

PAPER_COLUMNS = (
    ("accuracy", "accuracy", "accuracy", None),
    ("Hoyer L1", "sparsity", "sparsity", 1),
    ("Hoyer L2", "sparsity", "sparsity", 2),
    ("Hoyer L3", "sparsity", "sparsity", 3),
    ("dead L1", "sparsity", "dead_fraction", 1),
    ("activity share L1", "loo-ensembles", "activity_share", 1),
    ("selectivity L1", "loo-ensembles", "selectivity", 1),
)


def paper_headline() -> str:
    df = board()
    lines = [
        "| configuration | seeds | " + " | ".join(c[0] for c in PAPER_COLUMNS) + " |",
        "|---|---|" + "---|" * len(PAPER_COLUMNS),
    ]
    for cfg in PAPER_CONFIGS:
        s = seeds(df, cfg)
        if not s:
            continue
        cells = [mean_std(values(df, cfg, m, st, layer), n_config=len(s)) for _, m, st, layer in PAPER_COLUMNS]
        lines.append(f"| {label(cfg, len(s))} | {len(s)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


PER_LAYER = (
    ("Hoyer", "sparsity", "sparsity", "{:.3f}"),
    ("live-unit Hoyer", "sparsity", "hoyer_live", "{:.3f}"),
    ("dead", "sparsity", "dead_fraction", "{:.3f}"),
    ("LOO size", "loo-ensembles", "size", "{:.1f}"),
    ("activity share", "loo-ensembles", "activity_share", "{:.3f}"),
    ("selectivity", "loo-ensembles", "selectivity", "{:.3f}"),
    ("rho+ mean", "excitation", "mean", "{:.3f}"),
    ("probe", "linear-probe", "accuracy", "{:.3f}"),
)


def paper_per_layer() -> str:
    df = board()
    lines = [
        "| configuration, layer | " + " | ".join(c[0] for c in PER_LAYER) + " |",
        "|---|" + "---|" * len(PER_LAYER),
    ]
    for cfg in PAPER_CONFIGS:
        n = len(seeds(df, cfg))
        if not n:
            continue
        for layer in (1, 2, 3):
            cells = [mean_std(values(df, cfg, m, st, layer), fmt, n) for _, m, st, fmt in PER_LAYER]
            lines.append(f"| {label(cfg, n)} L{layer} ({plural(n, 'seed')}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def layer1_question() -> str:
    """ffbench's FF settings and BP/FF beside the authors' runs of the same settings, per layer."""
    df = board()
    rows = [
        ("authors: FF, analysed run (200 epochs, lr 1e-3)", authors_run("ff", row_index="101")),
        ("authors: FF, written recipe (100 epochs, lr 0.01)", authors_run("ff", row_index="106")),
        ("authors: BP/FF, selected run", authors_run("bp-ff", selected="true")),
        ("authors: BP, selected run", authors_run("bp", selected="true")),
    ]
    lines = ["| Hoyer sparsity | L1 | L2 | L3 |", "|---|---|---|---|"]
    for name, run in rows:
        lines.append(f"| {name} | " + " | ".join(f"{run[layer]:.3f}" for layer in (1, 2, 3)) + " |")
    for cfg in (FF_ANALYSED, FF_WRITTEN, BPFF, BP):
        n = len(seeds(df, cfg))
        if n:
            cells = [mean_std(values(df, cfg, "sparsity", "sparsity", layer), n_config=n) for layer in (1, 2, 3)]
            lines.append(f"| ffbench: {label(cfg, n)} ({plural(n, 'seed')}) | " + " | ".join(cells) + " |")
    lo_ff, hi_ff, n_ff = authors_range("ff", 1)
    lo_bf, hi_bf, n_bf = authors_range("bp-ff", 1)
    lines += [
        "",
        f"The authors' Fashion-MNIST notebook tabulates {n_ff} FF runs (layer-1 Hoyer {lo_ff:.3f} to {hi_ff:.3f}) "
        f"and {n_bf} BP/FF runs ({lo_bf:.3f} to {hi_bf:.3f}) and compares one of each.",
    ]
    return "\n".join(lines)


def _mean(vals: dict[int, float]) -> float:
    return sum(vals.values()) / len(vals) if vals else math.nan


def _matches(ours: float, theirs: float, within: float = 0.02) -> str:
    return "matches" if abs(ours - theirs) <= within else "differs from"


def layer1_answer() -> str:
    """The layer-1 question answered from the rows: each FF setting beside the authors' run of the
    same setting, what the setting changes, and the FF vs BP/FF order per layer for each setting."""
    df = board()
    if not seeds(df, FF_ANALYSED):
        return "- FF at the analysed setting has no rows on the board yet."
    out = []
    for cfg, row, name in ((FF_ANALYSED, "101", "analysed run"), (FF_WRITTEN, "106", "written-recipe run")):
        auth = authors_run("ff", row_index=row)
        n = len(seeds(df, cfg))
        ours = {layer: _mean(values(df, cfg, "sparsity", "sparsity", layer)) for layer in (1, 2, 3)}
        parts = [
            f"L{layer} {ours[layer]:.3f} vs {auth[layer]:.3f} ({_matches(ours[layer], auth[layer])})"
            for layer in (1, 2, 3)
        ]
        out.append(
            f"- **{cfg.label}** ({plural(n, 'seed')}, mean) against the authors' {name} (one run), Hoyer: "
            + "; ".join(parts)
            + " (matches: within 0.02)."
        )
    dead = {c: _mean(values(df, c, "sparsity", "dead_fraction", 1)) for c in (FF_ANALYSED, FF_WRITTEN)}
    live = {c: _mean(values(df, c, "sparsity", "hoyer_live", 1)) for c in (FF_ANALYSED, FF_WRITTEN)}
    out.append(
        "- **What the setting changes at layer 1**: "
        f"{verdict(df, FF_WRITTEN, FF_ANALYSED, 'sparsity', 'sparsity', 1)}. "
        f"Dead units: {dead[FF_WRITTEN]:.3f} (written recipe) vs {dead[FF_ANALYSED]:.3f} (analysed setting); "
        f"Hoyer over live units only: {live[FF_WRITTEN]:.3f} vs {live[FF_ANALYSED]:.3f}."
    )
    n_bpff = len(seeds(df, BPFF))
    for layer in (1, 2, 3):
        auth_b, auth_f = authors_run("bp-ff", selected="true")[layer], authors_run("ff", row_index="101")[layer]
        authors = (
            f"BP/FF above FF ({auth_b:.3f} vs {auth_f:.3f})"
            if auth_b > auth_f
            else f"FF above BP/FF ({auth_f:.3f} vs {auth_b:.3f})"
        )
        out.append(f"- L{layer}: " + _bpff_vs_ff(df, layer, n_bpff) + f" Authors (analysed run): {authors}.")
    return "\n".join(out)


def _bpff_vs_ff(df: pd.DataFrame, layer: int, n_bpff: int) -> str:
    """BP/FF against each FF setting at one layer: by the boards' test once every side has enough
    seeds (means otherwise), and whether the order depends on FF's setting."""
    b = _mean(values(df, BPFF, "sparsity", "sparsity", layer))
    if n_bpff < MIN_SEEDS:
        said, above = [], []
        for cfg in (FF_ANALYSED, FF_WRITTEN):
            f = _mean(values(df, cfg, "sparsity", "sparsity", layer))
            above.append(b > f)
            said.append(
                f"BP/FF above {cfg.label} ({b:.3f} vs {f:.3f})"
                if b > f
                else f"{cfg.label} above BP/FF ({f:.3f} vs {b:.3f})"
            )
        depends = "depends on" if above[0] != above[1] else "does not depend on"
        return (
            "means: " + "; ".join(said) + f". This order {depends} FF's setting "
            f"(means only, not tested: BP/FF has {plural(n_bpff, 'seed')})."
        )
    signs = []
    said = []
    for cfg in (FF_ANALYSED, FF_WRITTEN):
        signs.append(
            compare(
                values(df, BPFF, "sparsity", "sparsity", layer), values(df, cfg, "sparsity", "sparsity", layer)
            ).sign
        )
        said.append(verdict(df, BPFF, cfg, "sparsity", "sparsity", layer))
    if 0 in signs:
        settled = "Whether the order depends on FF's setting is not settled: a pair is not separated."
    elif signs[0] != signs[1]:
        settled = "The order depends on FF's setting (both pairs separated, in opposite directions)."
    else:
        settled = "The order does not depend on FF's setting (both pairs separated, in the same direction)."
    return "; ".join(said) + ". " + settled


def bpff_lr() -> str:
    """BP/FF at lr 3e-4 beside its lr 1e-4 seeds and both FF settings, per layer: does the layer-1
    order of BP/FF and FF depend on BP/FF's learning rate?"""
    df = board()
    n_fast = len(seeds(df, BPFF_FAST))
    if not n_fast:
        return "BP/FF at lr 3e-4 has no rows on the paper-scale board yet."
    configs = (BPFF, BPFF_FAST, FF_ANALYSED, FF_WRITTEN)
    cols = (*PAPER_COLUMNS[:5], ("live Hoyer L1", "sparsity", "hoyer_live", 1))
    lines = ["| configuration | " + " | ".join(c[0] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for cfg in configs:
        n = len(seeds(df, cfg))
        cells = [mean_std(values(df, cfg, m, s, layer), n_config=n) for _, m, s, layer in cols]
        name = "BP/FF at lr 1e-4 (the paper's)" if cfg == BPFF else label(cfg, n)
        lines.append(f"| {name} ({plural(n, 'seed')}) | " + " | ".join(cells) + " |")
    lines.append("")
    for layer in (1, 2, 3):
        fast = values(df, BPFF_FAST, "sparsity", "sparsity", layer)
        if n_fast >= MIN_SEEDS:
            said = [
                verdict(df, BPFF_FAST, cfg, "sparsity", "sparsity", layer) for cfg in (BPFF, FF_ANALYSED, FF_WRITTEN)
            ]
            lines.append(f"- L{layer}: " + "; ".join(said) + ".")
            continue
        low, high = min(fast.values()), max(fast.values())
        own = f"{low:.3f}" if n_fast == 1 else f"seeds {low:.3f}-{high:.3f}"
        said = []
        for cfg in (BPFF, FF_ANALYSED, FF_WRITTEN):
            other = values(df, cfg, "sparsity", "sparsity", layer)
            lo, hi = min(other.values()), max(other.values())
            where = (
                "above every seed of"
                if low > hi
                else "below every seed of"
                if high < lo
                else "overlapping the seeds of"
            )
            said.append(f"{where} {cfg.label} ({lo:.3f}-{hi:.3f})")
        lines.append(f"- L{layer}: {own}, " + "; ".join(said) + ".")
    if n_fast < MIN_SEEDS:
        lines.append(
            f"\n{BPFF_FAST.label} has {plural(n_fast, 'seed')}: preliminary, compared with the other "
            f"configurations' seed ranges, not tested (the boards' test needs {MIN_SEEDS} seeds)."
        )
    return "\n".join(lines)


def probes() -> str:
    """Linear-probe accuracy per layer (neutral label for FF and BP/FF) beside the same probe on the pixels."""
    df = board()
    lines = ["| configuration | seeds with a probe | pixels | L1 | L2 | L3 |", "|---|---|---|---|---|---|"]
    for cfg in PAPER_CONFIGS:
        pixels = values(df, cfg, "linear-probe", "pixel_accuracy")
        if not pixels:
            continue
        n = len(pixels)
        cells = [mean_std(pixels, n_config=n)] + [
            mean_std(values(df, cfg, "linear-probe", "accuracy", layer), n_config=n) for layer in (1, 2, 3)
        ]
        lines.append(f"| {label(cfg, n)} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


CONTROL_STATS = (
    ("Hoyer L1", "sparsity", "sparsity", 1),
    ("Hoyer L2", "sparsity", "sparsity", 2),
    ("Hoyer L3", "sparsity", "sparsity", 3),
    ("activity share L1", "loo-ensembles", "activity_share", 1),
    ("selectivity L1", "loo-ensembles", "selectivity", 1),
)


def control_verdicts() -> str:
    """Each trained rule against the untrained network, by the boards' test."""
    df = board()
    lines = []
    for cfg in (FF_WRITTEN, FF_ANALYSED, BPFF, BP):
        if not seeds(df, cfg):
            continue
        said = [f"{name}: {verdict(df, cfg, RANDOM, m, st, layer)}" for name, m, st, layer in CONTROL_STATS]
        lines.append(f"- **{cfg.label}** vs the untrained network. " + "; ".join(said) + ".")
    return "\n".join(lines)


def unseen_category() -> str:
    """The held-out class (Sandal) per configuration and layer: its ensemble, and the seen classes'."""
    df = board()
    lines = [
        "| configuration, layer | seeds | held-out ensemble size | its activity share | seen classes' size | "
        "their share | max Jaccard with a seen class (which) |",
        "|---|---|---|---|---|---|---|",
    ]
    for cfg in PAPER_CONFIGS:
        for layer in (1, 2, 3):
            size = values(df, cfg, "unseen-category", "size", layer)
            if not size:
                continue
            n = len(size)
            over = df[
                of_config(df, cfg)
                & (df["metric"] == "unseen-category")
                & (df["stat"] == "overlap")
                & (df["layer"] == layer)
            ]
            best = over.groupby("class_b")["value"].mean().sort_values(ascending=False)
            which = f"{best.iloc[0]:.2f} ({best.index[0]})" if len(best) and best.iloc[0] > 0 else "–"
            cells = [
                mean_std(size, "{:.0f}", n),
                mean_std(values(df, cfg, "unseen-category", "strength", layer), n_config=n),
                mean_std(values(df, cfg, "unseen-category", "seen_size", layer), "{:.0f}", n),
                mean_std(values(df, cfg, "unseen-category", "seen_strength", layer), n_config=n),
                which,
            ]
            lines.append(f"| {label(cfg, n)} L{layer} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main_job() -> str:
    """The README's main job: ff at the quick preset on the embedded subset, seed 0."""
    df = board(MINI_BOARD)
    quick = Config("ff", "ff", ("epochs=20", "batch_size=256", "lr=0.01", "schedule=greedy", "layers=3"))
    keep = (
        df["dataset_id"].astype(str).str.contains("train_size=0,", regex=False)
        & df["dataset_id"].astype(str).str.contains("validation=0]", regex=False)
        & (df["goodness"].astype(str) == "l2")
        & (df["negatives"].astype(str) == "wrong-label")
    )
    acc = values(df[keep.fillna(False).astype(bool)], quick, "accuracy", "accuracy")
    return f"**{acc[0]:.3f}** (seeds 0-{max(acc)}: {mean_std(acc)})."


def _script(name: str):
    """The module of scripts/NAME.py (each table script prints its own table from a board)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def zoo_table() -> str:
    return _script("zoo_table").table(str(MINI_BOARD))


# -- the quick preset's sweep and the layer-1 conditions (docs/science.md) --------------------------


def quick_sweep() -> str:
    return _script("quick_preset_sweep").table(str(SWEEP_BOARD))


def quick_chosen() -> str:
    """Each rule's quick preset as the registry defines it, against its paper preset on the sweep's board."""
    from ffbench.grid import expand_grid
    from ffbench.registry import get_registry

    sweep = _script("quick_preset_sweep")
    agg = sweep.summary(str(SWEEP_BOARD))
    lines = []
    for rule in ("ff", "bp", "bp-ff"):
        grid = expand_grid(
            get_registry(),
            rules=[rule],
            goodness=["l2"],
            negatives=["wrong-label"],
            datasets=["fashion-mnist-mini"],
            metrics=["accuracy"],
            seeds=[0],
            preset="quick",
        )
        rule_id = grid.points[0].rule.identity
        keys = [k for k in agg.index if k[1] == rule_id and k[2] == "quick"]
        if not keys:
            lines.append(f"- **{rule}**: its quick preset (`{rule_id}`) is not on the sweep's board.")
            continue
        block = agg.loc[[k for k in agg.index if k[0] == keys[0][0]]]
        gap = sweep.paper_gap(block, keys[0])
        r = agg.loc[keys[0]]
        n = int(r[("accuracy", "count")])
        acc = f"{r[('accuracy', 'mean')]:.3f}" + (f" ± {r[('accuracy', 'std')]:.3f}" if n > 1 else "")
        where = (
            "no paper-preset row"
            if gap is None
            else (
                f"per-layer Hoyer gap to the paper preset {' / '.join(f'{v:.3f}' for v in gap[1].values())} "
                f"(largest {gap[0]:.3f}, target 0.08)"
            )
        )
        lines.append(f"- **{rule}** `{sweep.setting(rule_id)}` ({plural(n, 'seed')}): accuracy {acc}; {where}.")
    return "\n".join(lines)


def layer1_conditions() -> str:
    conditions = _script("layer1_conditions")
    return conditions.table(str(CONDITIONS_BOARD)) + "\n\n" + conditions.changes(str(CONDITIONS_BOARD))


ZOO_RANKED = (
    ("accuracy", "accuracy", "accuracy", None),
    ("Hoyer sparsity, layer 1", "sparsity", "sparsity", 1),
    ("ensemble activity share, layer 1", "loo-ensembles", "activity_share", 1),
    ("unit selectivity, layer 1", "loo-ensembles", "selectivity", 1),
    ("linear probe, layer 3", "linear-probe", "accuracy", 3),
)


def ranks(per_config: dict[str, dict[int, float]]) -> list[tuple[int, str, float]]:
    """(rank, name, mean): rank = 1 + the number of configurations separated above (boards' test)."""
    out = []
    for name, vals in per_config.items():
        above = sum(compare(other, vals).sign > 0 for o, other in per_config.items() if o != name)
        out.append((1 + above, name, sum(vals.values()) / len(vals)))
    return sorted(out, key=lambda r: (r[0], -r[2]))


def zoo_ranks() -> str:
    """Per headline statistic, the zoo's rules grouped by rank (ties share a rank)."""
    zoo = _script("zoo_table")
    df = board(MINI_BOARD)
    tagged = df[df["suite"] == "zoo"]
    latest = max(tagged["suite_version"].dropna(), key=int)
    configs = sorted(set(tagged.loc[tagged["suite_version"] == latest, "rule_id"]))
    lines = []
    for title, metric, stat, layer in ZOO_RANKED:
        per = {}
        for rule_id in configs:
            cfg = Config(
                rule_id.split("[")[0], rule_id.split("[")[0], tuple(rule_id.partition("[")[2].rstrip("]").split(","))
            )
            vals = values(df, cfg, metric, stat, layer)
            if len(vals) >= MIN_SEEDS:
                per[cfg.label] = vals
        groups: dict[int, list[str]] = {}
        for r, name, mean in ranks(per):
            groups.setdefault(r, []).append(f"{name} {mean:.3f}")
        ordered = "; ".join(f"{r}. " + ", ".join(names) for r, names in sorted(groups.items()))
        lines.append(f"- **{title}** (higher first): {ordered}")
    del zoo
    return "\n".join(lines)


def excitation() -> str:
    """rho+ per configuration and layer: the mean positive share of a unit's incoming weights."""
    df = board()
    lines = [
        "| configuration, layer | seeds | mean rho+ | units with rho+ > 0.5 | mean rho+ without the label inputs |",
        "|---|---|---|---|---|",
    ]
    for cfg in PAPER_CONFIGS:
        for layer in (1, 2, 3):
            mean = values(df, cfg, "excitation", "mean", layer)
            if not mean:
                continue
            n = len(mean)
            skip = (
                values(df, cfg, "excitation", "mean", layer, "excitation[bins=20,skip_inputs=10]") if layer == 1 else {}
            )
            if cfg in LABEL_FREE and layer == 1:  # skip_inputs=10 would leave out ten image pixels
                without = "no label inputs"
            else:
                without = mean_std(skip, n_config=n) if skip else "–"
            cells = [
                mean_std(mean, n_config=n),
                mean_std(values(df, cfg, "excitation", "frac_excitatory", layer), n_config=n),
                without,
            ]
            lines.append(f"| {label(cfg, n)} L{layer} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


BF16_STATS = (
    ("accuracy", "accuracy", "accuracy", None),
    *((f"Hoyer L{k}", "sparsity", "sparsity", k) for k in (1, 2, 3)),
    *((f"dead L{k}", "sparsity", "dead_fraction", k) for k in (1, 2, 3)),
    *((f"activity share L{k}", "loo-ensembles", "activity_share", k) for k in (1, 2, 3)),
    *((f"probe L{k}", "linear-probe", "accuracy", k) for k in (1, 2, 3)),
)


def bf16_paper() -> str:
    """FF (written recipe) and BP at paper scale: the bf16 seeds beside the float32 seeds they are
    paired with, and the float32 seed spread that is the margin."""
    df = board()
    paired_test = _script("bf16_equivalence").compare  # the quick-preset evidence's paired test and verdict
    lines = [
        "| rule | stat | float32, seeds | float32 seed std (margin) | bfloat16 - float32, per paired seed "
        "| beyond the margin | paired 95 % interval, verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    summary = []
    for fp32 in (FF_WRITTEN, BP):
        bf16 = Config(fp32.label, fp32.rule, fp32.params, "bf16")
        n = len(seeds(df, fp32))
        counts: dict[str, int] = {}
        for name, metric, stat, layer in BF16_STATS:
            ref, low = values(df, fp32, metric, stat, layer), values(df, bf16, metric, stat, layer)
            paired = sorted(set(ref) & set(low))
            if not paired:
                continue
            margin = pd.Series(list(ref.values())).std() if len(ref) > 1 else float("nan")
            diffs = [low[s] - ref[s] for s in paired]
            beyond = [abs(d) > margin for d in diffs]
            test = paired_test(ref, low)
            if len(paired) >= MIN_SEEDS:
                counts[test["verdict"]] = counts.get(test["verdict"], 0) + 1
            verdict = (
                f"[{test['ci'][0]:+.3f}, {test['ci'][1]:+.3f}] {test['verdict']}"
                if len(paired) >= MIN_SEEDS
                else f"not tested ({plural(len(paired), 'paired seed')})"
            )
            lines.append(
                f"| {fp32.label} | {name} | {mean_std(ref, n_config=n)} | {sig2(margin)} | "
                + ", ".join(f"{d:+.3f} (seed {s})" for d, s in zip(diffs, paired))
                + f" | {'yes' if any(beyond) else 'no'} | {verdict} |"
            )
        if counts:
            summary.append(
                f"- {fp32.label}: {sum(counts.values())} stats over {plural(len(paired), 'paired seed')}: "
                + ", ".join(f"{counts.get(v, 0)} {v}" for v in ("equivalent", "inconclusive", "shifted"))
                + "."
            )
    if len(lines) == 2:
        return "No bfloat16 rows on the paper-scale board yet."
    return "\n".join(lines + ([""] + summary if summary else []))


BLOCKS: dict[str, Callable[[], str]] = {
    "bf16-paper": bf16_paper,
    "excitation": excitation,
    "main-job": main_job,
    "paper-headline": paper_headline,
    "paper-per-layer": paper_per_layer,
    "layer1-question": layer1_question,
    "layer1-answer": layer1_answer,
    "bpff-lr": bpff_lr,
    "unseen-category": unseen_category,
    "probes": probes,
    "control-verdicts": control_verdicts,
    "zoo-table": zoo_table,
    "zoo-ranks": zoo_ranks,
    "quick-sweep": quick_sweep,
    "quick-chosen": quick_chosen,
    "layer1-conditions": layer1_conditions,
}

BLOCK = re.compile(r"(<!-- numbers:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /numbers:(?P=name) -->)", re.S)


def sync(path: Path, write: bool) -> list[str]:
    """Names of the blocks in ``path`` that differ from the boards (rewritten when ``write``)."""
    text = path.read_text(encoding="utf-8")
    stale: list[str] = []

    def repl(m: re.Match) -> str:
        name = m.group("name")
        if name not in BLOCKS:
            raise SystemExit(f"{path}: unknown generated block {name!r}; known: {', '.join(BLOCKS)}")
        body = BLOCKS[name]().rstrip("\n") + "\n"
        if body != m.group("body"):
            stale.append(name)
        return m.group(1) + body + m.group(4)

    new = BLOCK.sub(repl, text)
    if write and new != text:
        path.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a block differs from the boards")
    args = parser.parse_args(argv)
    bad = {str(p.relative_to(ROOT)): sync(p, write=not args.check) for p in DOCS}
    bad = {p: names for p, names in bad.items() if names}
    for p, names in bad.items():
        print(f"{p}: {'differs from' if args.check else 'rewritten from'} the boards: {', '.join(names)}")
    return 1 if (bad and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
