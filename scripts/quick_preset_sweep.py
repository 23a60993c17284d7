"""The measured sweep behind the quick preset (docs/science.md, "The quick preset").

Selection reads a validation split carved from the training images (``validation=2000``), never
the test split. For each rule it trains the paper preset (the reference) and candidate quick
settings (learning rate, epochs, batch size only; definitions unchanged) on the same data, and
prints one Markdown table: accuracy and per-layer Hoyer sparsity (seed mean +- std) of every
setting, and each layer's distance to the paper-preset value.

    python scripts/quick_preset_sweep.py --out sweep.parquet                  # sample 1 (embedded data)
    python scripts/quick_preset_sweep.py --sample 2 --out sweep2.parquet      # sample 2 (needs Debian's fashion-mnist)
    python scripts/quick_preset_sweep.py --out sweep.parquet --table-only     # just the table

Every run appends to ``--out`` with ``--resume``, so an interrupted sweep continues. The table
reads a results file or a board (``ffbench leaderboard update``): docs/science.md prints it from
the committed board leaderboards/quick-preset-sweep/ (scripts/doc_numbers.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pandas as pd

#: the two samples: the embedded 10 000 / 2 000 subset, and another stratified 10 000 / 2 000
#: draw (subset_seed 1) of the full Fashion-MNIST files; 2 000 training images become validation
SAMPLES = {
    1: "fashion-mnist-mini[validation=2000]",
    2: "fashion-mnist[train_size=10000,test_size=2000,subset_seed=1,validation=2000]",
}

#: rule -> candidate quick settings (rule spec params); the paper preset is always run as reference
CANDIDATES = {
    "ff": ["epochs=10,batch_size=256", "epochs=20,batch_size=256", "epochs=30,batch_size=256"],
    "bp": ["epochs=10,batch_size=256", "epochs=30,batch_size=256", "lr=0.001,epochs=10,batch_size=256"],
    "bp-ff": [  # lr named in every candidate: the quick preset's own lr changed (1e-4, then 1.5e-4)
        "lr=0.0001,epochs=10,batch_size=256",
        "lr=0.00015,epochs=10,batch_size=256",
        "lr=0.001,epochs=10,batch_size=256",
        "lr=0.0001,epochs=30,batch_size=256",
        "lr=0.00015,epochs=30,batch_size=256",
        "lr=0.0002,epochs=30,batch_size=256",
        "lr=0.0003,epochs=30,batch_size=256",
        "lr=0.001,epochs=30,batch_size=256",
        "lr=0.00015,epochs=45,batch_size=256",
    ],
}


def run(args: list[str]) -> None:
    print("+ ffbench run", " ".join(args), file=sys.stderr, flush=True)
    subprocess.run(["ffbench", "run", *args], check=False)


def per_seed(path: str) -> pd.DataFrame:
    """Accuracy and per-layer Hoyer of every (dataset, rule, preset, seed); a board has no status
    column (it holds ok rows only), a results file keeps its failed points out here."""
    df = pd.read_parquet(path)
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    df = df[df["class"].isna() & df["class_b"].isna() & df["stat"].isin(["accuracy", "sparsity"])].copy()
    df = df[(df["stat"] != "accuracy") | (df["metric"] == "accuracy")]
    df["col"] = [s if pd.isna(layer) else f"{s} L{int(layer)}" for s, layer in zip(df["stat"], df["layer"])]
    # rows sorted by start time: a unit measured twice (a resumed or rerun point) keeps its newest value
    df = df.sort_values("started_at") if "started_at" in df.columns else df
    return df.pivot_table(
        index=["dataset", "rule_id", "rule", "preset", "seed"], columns="col", values="value", aggfunc="last"
    ).reset_index()


def summary(path: str) -> pd.DataFrame:
    """Seed mean, std and count of each column per (dataset, rule_id, preset)."""
    seeds = per_seed(path)
    cols = [c for c in seeds.columns if c.startswith(("accuracy", "sparsity"))]
    agg = seeds.groupby(["dataset", "rule_id", "preset"])[cols].agg(["mean", "std", "count"])
    return agg


def paper_gap(block: pd.DataFrame, key: tuple) -> tuple[float, dict[str, float]] | None:
    """Largest and per-layer absolute Hoyer distance of ``key``'s row to its rule's paper preset."""
    base = key[1].split("[")[0]
    ref = block[[k[1].split("[")[0] == base and k[2] == "paper" for k in block.index]]
    if key[2] == "paper" or not len(ref):
        return None
    cols = [c for c in block.columns.get_level_values(0).unique() if c.startswith("sparsity")]
    per_layer = {c: abs(block.loc[key, (c, "mean")] - ref.iloc[0][(c, "mean")]) for c in cols}
    return max(per_layer.values()), per_layer


#: the parameters a quick preset may set, shown for every row (a row's label names only those that
#: differ from the rule's defaults, which hides the learning rate a preset sets)
SWEPT = ("lr", "epochs", "batch_size")


def setting(rule_id: str) -> str:
    """``bp-ff[lr=0.00015,epochs=30,batch_size=256]``: the rule with the swept parameters of its id."""
    name, _, rest = rule_id.partition("[")
    params = dict(kv.split("=", 1) for kv in rest.rstrip("]").split(",") if "=" in kv)
    return f"{name}[{','.join(f'{k}={params[k]}' for k in SWEPT if k in params)}]"


def table(path: str) -> str:
    """One Markdown table per dataset: every setting's seed mean ± std and its gap to the paper preset."""
    agg = summary(path)
    cols = [c for c in agg.columns.get_level_values(0).unique() if c.startswith(("accuracy", "sparsity"))]
    lines = []
    for dataset, block in agg.groupby(level=0):
        lines += [
            f"\n**{dataset}** (evaluated on the validation split)\n",
            "| rule | preset | seeds | " + " | ".join(cols) + " | max abs Hoyer diff to paper |",
            "|---" * (len(cols) + 4) + "|",
        ]
        order = sorted(block.index, key=lambda k: (k[1].split("[")[0], k[2] != "paper", setting(k[1])))
        for key in order:
            r = block.loc[key]
            cells = [f"{r[(c, 'mean')]:.3f} ± {0 if pd.isna(r[(c, 'std')]) else r[(c, 'std')]:.3f}" for c in cols]
            gap = paper_gap(block, key)
            lines.append(
                f"| {setting(key[1])} | {key[2]} | {int(r[(cols[0], 'count')])} | "
                + " | ".join(cells)
                + f" | {'' if gap is None else f'{gap[0]:.3f}'} |"
            )
    return "\n".join(lines).lstrip("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sample", type=int, default=1, choices=sorted(SAMPLES))
    ap.add_argument("--rules", default="ff,bp,bp-ff")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per candidate")
    ap.add_argument("--paper-seeds", type=int, default=1, help="seeds of the paper-preset reference")
    ap.add_argument("--only", default="", help="run just this candidate (rule spec params) for each rule")
    ap.add_argument("--skip-paper", action="store_true")
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args()
    data = SAMPLES[a.sample]
    common = ["--dataset", data, "--metric", "accuracy,sparsity", "--out", a.out, "--resume", "--no-download", "-q"]
    if not a.table_only:
        for rule in a.rules.split(","):
            if not a.skip_paper:
                run(["--rule", rule, "--preset", "paper", "--seeds", str(a.paper_seeds), *common])
            for cand in [a.only] if a.only else CANDIDATES[rule]:
                run(["--rule", f"{rule}[{cand}]", "--preset", "quick", "--seeds", str(a.seeds), *common])
    print(table(a.out))


if __name__ == "__main__":
    main()
