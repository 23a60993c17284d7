"""The authors' two data choices, measured (docs/science.md, "Layer 1: ffbench vs the authors").

FF and BP/FF with the quick preset, 3 seeds, on the embedded data's 2 000-image validation split,
under three conditions: ffbench's defaults, the MNIST normalisation statistics
(``fashion-mnist-mini[norm=mnist]``) and pool pairing of the negatives
(``wrong-label[pairing=pool]``). Prints one Markdown table (seed mean ± std per rule and condition).

    python scripts/layer1_conditions.py --out layer1.parquet               # run (resumes), then the table
    python scripts/layer1_conditions.py --out layer1.parquet --table-only  # just the table

The table reads a results file or a board (``ffbench leaderboard update``); docs/science.md prints
it from the committed board leaderboards/layer1-conditions/ (scripts/doc_numbers.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pandas as pd

#: condition -> (dataset, negatives)
CONDITIONS = {
    "default": ("fashion-mnist-mini[validation=2000]", "wrong-label"),
    "norm=mnist": ("fashion-mnist-mini[validation=2000,norm=mnist]", "wrong-label"),
    "pairing=pool": ("fashion-mnist-mini[validation=2000]", "wrong-label[pairing=pool]"),
}
#: (header, metric, stat, layer or None)
COLUMNS = (
    ("accuracy", "accuracy", "accuracy", None),
    ("Hoyer L1", "sparsity", "sparsity", 1),
    ("Hoyer L2", "sparsity", "sparsity", 2),
    ("Hoyer L3", "sparsity", "sparsity", 3),
    ("live Hoyer L1", "sparsity", "hoyer_live", 1),
    ("dead L1", "sparsity", "dead_fraction", 1),
    ("activity share L1", "loo-ensembles", "activity_share", 1),
    ("selectivity L1", "loo-ensembles", "selectivity", 1),
)
RULES = ("ff", "bp-ff")


def condition(dataset_id: str, negatives_id: str) -> str:
    """Which of the three conditions a row was measured under."""
    if "norm=mnist" in dataset_id:
        return "norm=mnist"
    if "pairing=pool" in str(negatives_id):
        return "pairing=pool"
    return "default"


def rows(path: str) -> pd.DataFrame:
    """The run rows (ok ones of a results file; a board holds no other) with rule name and condition."""
    df = pd.read_parquet(path)
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    df = df[df["class"].isna() & df["class_b"].isna()].copy()
    if "started_at" in df.columns:
        df = df.sort_values("started_at")  # a unit measured twice keeps its newest value
    df["name"] = df["rule_id"].str.split("[", n=1, regex=False).str[0]
    df["condition"] = [condition(d, n) for d, n in zip(df["dataset_id"], df["negatives_id"])]
    return df


def per_seed(df: pd.DataFrame, rule: str, cond: str, metric: str, stat: str, layer: int | None) -> pd.Series:
    part = df[(df["name"] == rule) & (df["condition"] == cond) & (df["metric"] == metric) & (df["stat"] == stat)]
    part = part[part["layer"].isna()] if layer is None else part[part["layer"] == layer]
    return part.groupby("seed")["value"].last()


#: the stats whose change under each condition is tested against the defaults
TESTED = (("Hoyer L1", "sparsity", "sparsity", 1), ("Hoyer L2", "sparsity", "sparsity", 2))


def changes(path: str) -> str:
    """Each condition against the defaults, per rule: the mean change of layer-1 and layer-2 Hoyer
    and the boards' test (paired t where the data are the same: seed s starts both from the same
    weights; Welch where the normalisation changes the data), then the FF - BP/FF gap at layer 1
    under each condition."""
    from ffbench.leaderboard.separation import compare

    df = rows(path)
    lines = ["| rule | condition | " + " | ".join(f"{h}: change, p" for h, *_ in TESTED) + " |", "|---|---|---|---|"]
    for rule in RULES:
        for cond in list(CONDITIONS)[1:]:
            cells = []
            for _, metric, stat, layer in TESTED:
                base, other = (per_seed(df, rule, c, metric, stat, layer) for c in ("default", cond))
                same_data = CONDITIONS[cond][0] == CONDITIONS["default"][0]
                test = compare(other.to_dict(), base.to_dict(), same_data=same_data)
                p = f"{test.p:.2g} ({test.test})" if test.test else "not tested"
                cells.append(f"{other.mean() - base.mean():+.3f}, p = {p}")
            lines.append(f"| {rule} | {cond} | " + " | ".join(cells) + " |")
    gaps = []
    for cond in CONDITIONS:
        ff, bpff = (per_seed(df, r, cond, "sparsity", "sparsity", 1) for r in RULES)
        gaps.append(f"{cond} {ff.mean() - bpff.mean():+.3f}")
    return "\n".join(lines) + "\n\nFF - BP/FF at layer 1 (Hoyer, means): " + ", ".join(gaps) + "."


def table(path: str) -> str:
    df = rows(path)
    lines = [
        "| rule | condition | seeds | " + " | ".join(c[0] for c in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 3) + "|",
    ]
    for rule in RULES:
        for cond in CONDITIONS:
            if df[(df["name"] == rule) & (df["condition"] == cond)].empty:
                continue
            cells, n = [], 0
            for _, metric, stat, layer in COLUMNS:
                values = per_seed(df, rule, cond, metric, stat, layer)
                n = max(n, len(values))
                std = values.std() if len(values) > 1 else 0.0
                cells.append(f"{values.mean():.3f} ± {std:.3f}" if len(values) else "")
            lines.append(f"| {rule} | {cond} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args()
    if not a.table_only:
        for dataset, negatives in CONDITIONS.values():
            args = ["--rule", ",".join(RULES), "--dataset", dataset, "--negatives", negatives, "--seeds", str(a.seeds)]
            args += ["--metric", "accuracy,sparsity,loo-ensembles", "--out", a.out, "--resume", "--no-download", "-q"]
            print("+ ffbench run", " ".join(args), file=sys.stderr, flush=True)
            subprocess.run(["ffbench", "run", *args], check=False)
    print(table(a.out))
    print()
    print(changes(a.out))


if __name__ == "__main__":
    main()
