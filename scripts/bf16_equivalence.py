"""Float32 vs bfloat16 training on a CPU, per built-in rule: the evidence behind ``bf16_cpu_verified``.

For each rule, the quick preset on the embedded Fashion-MNIST subset (l2 goodness and wrong-label
negatives for the rules that read them), trained in fp32 and in bf16 with the same seeds (seed s
fixes the initial weights, batch order and negatives of both: the pairs differ only in precision),
one process, one point at a time, no model cache. Then, per rule and per stat (each metric's
headline stats, overall and per layer), a Markdown table:

- fp32 mean ± std and bf16 mean ± std over the seeds (sample std);
- the paired difference bf16 - fp32: its mean d and 95 % t-interval d ± t(0.975, n-1) sd_d / sqrt(n)
  (the boards' separation test: two-sided paired t at level 0.05; "separated" when the interval
  excludes 0);
- the margin m: the fp32 seed std of the stat (how much a change of seed moves it);
- the verdict: **equivalent** when the whole interval lies within [-m, m] (bf16 moves the stat by
  less than a change of seed does, at 95 % confidence); **shifted** when the interval excludes 0 and
  |d| > m (a systematic change larger than seed noise); **inconclusive** otherwise (no shift found,
  but the interval is wider than the margin: more seeds would decide).

A rule is supported by the data when no stat is shifted and its test accuracy is equivalent.

Usage (re-running skips the points already measured; the committed rows are the board
leaderboards/precision-study/, which --table-only reads as well as a results file)::

    OMP_NUM_THREADS=1 python scripts/bf16_equivalence.py --rules ff,bp --out bf16-results.parquet
    ffbench leaderboard update bf16-results.parquet --boards leaderboards/precision-study
    python scripts/bf16_equivalence.py --table-only --out leaderboards/precision-study/fashion-mnist-mini.parquet \
        --doc docs/precision.md
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

import pandas as pd

RULES = ("ff", "bp", "bp-ff", "mono-forward", "dfa", "cafo", "pepita", "random")
METRICS = ("accuracy", "sparsity", "loo-ensembles", "linear-probe")
PRECISIONS = ("fp32", "bf16")
START, END = "<!-- bf16-equivalence:start -->", "<!-- bf16-equivalence:end -->"

#: Student t quantiles t(0.975, df) for df = 1..30 (two-sided 95 %)
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131]
T975 += [2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df: int) -> float:
    return T975[df - 1] if df <= len(T975) else 1.96


def rule_names(results: pd.DataFrame) -> pd.Series:
    """The rule's name on every row (``rule_id`` without its parameters)."""
    return results["rule_id"].str.split("[", n=1, regex=False).str[0]


def ok_rows(results: pd.DataFrame) -> pd.Series:
    """Rows of finished points: a board holds only those (it has no status column)."""
    return results["status"] == "ok" if "status" in results.columns else pd.Series(True, index=results.index)


def measured(results: pd.DataFrame, rule: str, precision: str, seed: int, metrics: list[str]) -> bool:
    """Whether ``results`` hold ok rows of every metric for this rule, precision and seed."""
    if results.empty:
        return False
    ok = results[
        ok_rows(results)
        & (rule_names(results) == rule)
        & (results["precision"] == precision)
        & (results["seed"] == seed)
    ]
    return set(metrics) <= set(ok["metric"])


def train(rule: str, precision: str, seed: int, args) -> float:
    """One quick run point (all metrics) appended to ``args.out``; returns its wall seconds."""
    from ffbench.cache import ModelCache
    from ffbench.grid import expand_grid
    from ffbench.registry import get_registry
    from ffbench.runner import Runner, RunOptions

    registry = get_registry()
    grid = expand_grid(
        registry,
        rules=[rule],
        goodness=["l2"],
        negatives=["wrong-label"],
        datasets=[args.dataset],
        metrics=args.metrics.split(","),
        seeds=[seed],
        preset="quick",
    )
    import torch

    opts = RunOptions(
        out=args.out.resolve(),
        device=torch.device("cpu"),
        cache=ModelCache(enabled=False),
        precision=precision,
        extra_columns={"suite": "bf16-equivalence", "suite_version": "1"},
    )
    t0 = time.perf_counter()
    Runner(registry, opts).run(grid)
    return time.perf_counter() - t0


def stat_rows(results: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Per-seed values of every headline stat (overall and per layer, no class) of ``rule``."""
    df = results[ok_rows(results) & (rule_names(results) == rule) & (results["headline"].fillna(False))]
    df = df[df["class"].isna() & df["class_b"].isna()]
    df = df.sort_values("started_at").drop_duplicates(["precision", "seed", "metric", "stat", "layer"], keep="last")
    return df


def compare(fp32: dict[int, float], bf16: dict[int, float]) -> dict:
    """The paired comparison of one stat (see the module docstring)."""
    seeds = sorted(s for s in set(fp32) & set(bf16) if math.isfinite(fp32[s]) and math.isfinite(bf16[s]))
    out = {"n": len(seeds)}
    a = [fp32[s] for s in seeds]
    b = [bf16[s] for s in seeds]
    d = [y - x for x, y in zip(a, b)]
    n = len(seeds)
    if n < 2:
        return out | {"verdict": "too few seeds"}

    def mean_sd(xs):
        m = sum(xs) / len(xs)
        return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))

    (ma, sa), (mb, sb), (md, sd) = mean_sd(a), mean_sd(b), mean_sd(d)
    half = t975(n - 1) * sd / math.sqrt(n)
    lo, hi, margin = md - half, md + half, sa
    tol = 1e-12 * max(1.0, abs(ma))
    if lo >= -margin - tol and hi <= margin + tol:
        verdict = "equivalent"
    elif (lo > tol or hi < -tol) and abs(md) > margin:
        verdict = "shifted"
    else:
        verdict = "inconclusive"
    return out | {
        "fp32": (ma, sa),
        "bf16": (mb, sb),
        "diff": md,
        "ci": (lo, hi),
        "margin": margin,
        "verdict": verdict,
    }


def rule_table(results: pd.DataFrame, rule: str) -> tuple[list[str], str, dict]:
    """Markdown lines of one rule's table, its overall verdict, and the verdict counts."""
    df = stat_rows(results, rule)
    if df.empty:
        return [], "not measured", {}
    from ffbench.registry import get_registry

    registry = get_registry()
    order = {}  # (metric, stat) -> position: the metrics in METRICS order, each in its headline order
    for i, m in enumerate(METRICS):
        for j, stat in enumerate(registry.get("metric", m).cls.headline_stats()):
            order[(m, stat)] = 100 * i + j
    keys = df[["metric", "stat", "layer"]].drop_duplicates()
    keys = keys.assign(_o=[order.get((m, st), 10_000) for m, st in zip(keys["metric"], keys["stat"])])
    keys = keys.sort_values(["_o", "stat", "layer"], na_position="first")
    lines = [
        "| metric | stat | layer | fp32 mean ± std | bf16 mean ± std | paired diff (bf16 - fp32) | 95 % interval "
        "| margin (fp32 std) | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    counts: dict[str, int] = {}
    accuracy_ok, seeds = False, 0
    for _, k in keys.iterrows():
        sel = df[(df["metric"] == k["metric"]) & (df["stat"] == k["stat"])]
        sel = sel[sel["layer"].isna()] if pd.isna(k["layer"]) else sel[sel["layer"] == k["layer"]]
        side = {
            p: dict(zip(sel.loc[sel["precision"] == p, "seed"], sel.loc[sel["precision"] == p, "value"]))
            for p in PRECISIONS
        }
        c = compare(side["fp32"], side["bf16"])
        seeds = max(seeds, c["n"])
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
        layer = "-" if pd.isna(k["layer"]) else str(int(k["layer"]))
        if "diff" not in c:
            lines.append(f"| {k['metric']} | {k['stat']} | {layer} | | | | | | {c['verdict']} ({c['n']} pairs) |")
            continue
        if k["metric"] == "accuracy" and k["stat"] == "accuracy":
            accuracy_ok = c["verdict"] == "equivalent"
        lines.append(
            f"| {k['metric']} | {k['stat']} | {layer} | {c['fp32'][0]:.4f} ± {c['fp32'][1]:.4f} "
            f"| {c['bf16'][0]:.4f} ± {c['bf16'][1]:.4f} | {c['diff']:+.4f} | [{c['ci'][0]:+.4f}, {c['ci'][1]:+.4f}] "
            f"| {c['margin']:.4f} | {c['verdict']} |"
        )
    if seeds < 3:
        overall = f"preliminary ({seeds} paired seed(s); 3 needed)"
    elif counts.get("shifted"):
        overall = "not supported: a stat is shifted beyond seed noise"
    elif accuracy_ok:
        overall = "supported: no stat shifted, accuracy equivalent"
    else:
        overall = "not shown: accuracy not proven equivalent"
    return lines, overall, counts


def report(results: pd.DataFrame, rules: list[str], command: str) -> str:
    """The Markdown section: a summary table, then one table per rule."""
    from ffbench.registry import get_registry

    registry = get_registry()
    summary = [
        "| rule | paired seeds | verdict | equivalent / inconclusive / shifted stats | admitted |",
        "|---|---|---|---|---|",
    ]
    body = []
    for rule in rules:
        lines, overall, counts = rule_table(results, rule)
        n = stat_rows(results, rule).groupby("precision")["seed"].nunique().min() if lines else 0
        summary.append(
            f"| {rule} | {0 if pd.isna(n) else int(n)} | {overall} | "
            f"{counts.get('equivalent', 0)} / {counts.get('inconclusive', 0)} / {counts.get('shifted', 0)} | "
            f"{'yes' if registry.get('rule', rule).cls.bf16_cpu_verified else 'no'} |"
        )
        if lines:  # no training times: on a shared machine they measure the other jobs (ffbench bench --clock thread)
            body += [f"### {rule}", "", *lines, ""]
    head = [f"Generated by `{command}`.", ""]
    return "\n".join(head + summary + [""] + body).rstrip() + "\n"


def read(path: Path) -> pd.DataFrame:
    """A board (``ffbench leaderboard update``: schema-checked, ok rows only) or a results file."""
    import pyarrow.parquet as pq

    from ffbench import results_store
    from ffbench.leaderboard import SCHEMA_KEY, read_board

    metadata = pq.read_schema(path).metadata or {}
    return read_board(path) if SCHEMA_KEY.encode() in metadata else results_store.read(path)


def shown_path(path: Path) -> str:
    """``path`` relative to the repository when it lies inside (a committed board), else its name."""
    root = Path(__file__).resolve().parent.parent
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.name


def write_doc(doc: Path, section: str) -> None:
    text = doc.read_text()
    if START not in text or END not in text:
        sys.exit(f"{doc} has no {START} ... {END} markers to write the table between")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    doc.write_text(f"{before}{START}\n{section}{END}{after}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rules", default=",".join(RULES), help="comma-separated rules, measured in this order")
    p.add_argument("--seeds", type=int, default=3, help="paired seeds 0..N-1")
    p.add_argument("--dataset", default="fashion-mnist-mini")
    p.add_argument("--metrics", default=",".join(METRICS))
    p.add_argument(
        "--out",
        type=Path,
        default=Path("bf16-results.parquet"),
        help="results file (appended) or, with --table-only, a board",
    )
    p.add_argument("--table-only", action="store_true", help="no training: print the tables of --out")
    p.add_argument("--doc", type=Path, help="also write the tables between the markers of this Markdown file")
    args = p.parse_args(argv)
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    bad = [r for r in rules if not re.fullmatch(r"[a-z0-9-]+", r)]
    if bad:
        sys.exit(f"--rules takes plain built-in rule names, not {bad}")
    from ffbench import results_store

    if not args.table_only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for rule in rules:
            for seed in range(args.seeds):
                for precision in PRECISIONS:  # interleaved, so that a partial run still has pairs
                    results = results_store.read(args.out) if args.out.exists() else pd.DataFrame()
                    if measured(results, rule, precision, seed, args.metrics.split(",")):
                        continue
                    seconds = train(rule, precision, seed, args)
                    print(f"{rule} {precision} seed {seed}: {seconds:.1f} s", file=sys.stderr, flush=True)
    results = read(args.out)
    source = shown_path(args.out)
    command = f"python scripts/bf16_equivalence.py --table-only --out {source} --rules {','.join(rules)}"
    if args.doc:
        command += f" --doc {shown_path(args.doc)}"
    section = report(results, rules, command)
    print(section)
    if args.doc:
        write_doc(args.doc, section)


if __name__ == "__main__":
    main()
