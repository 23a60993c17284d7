"""The measured sweep behind the quick preset (docs/science.md, "The quick preset").

Selection reads a validation split carved from the training images (``validation=2000``), never
the test split. For each rule it trains the paper preset (the reference) and candidate quick
settings (learning rate, epochs, batch size only; definitions unchanged) on the same data, and
prints one Markdown table: accuracy and per-layer Hoyer sparsity (seed mean +- std) of every
setting, and each layer's distance to the paper-preset value.

    python scripts/quick_preset_sweep.py --out sweep.parquet                  # sample 1 (embedded data)
    python scripts/quick_preset_sweep.py --sample 2 --out sweep2.parquet      # sample 2 (needs Debian's fashion-mnist)
    python scripts/quick_preset_sweep.py --out sweep.parquet --table-only     # just the table

Every run appends to ``--out`` with ``--resume``, so an interrupted sweep continues.
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
    "bp-ff": [
        "epochs=10,batch_size=256",
        "lr=0.001,epochs=10,batch_size=256",
        "lr=0.001,epochs=30,batch_size=256",
        "lr=0.0003,epochs=30,batch_size=256",
        # stop 22: between 1e-4 (layer 1 0.087 under the paper preset) and 3e-4 (0.10 over)
        "lr=0.0002,epochs=30,batch_size=256",
        "lr=0.00015,epochs=30,batch_size=256",
        "lr=0.00015,epochs=45,batch_size=256",
    ],
}


def run(args: list[str]) -> None:
    print("+ ffbench run", " ".join(args), file=sys.stderr, flush=True)
    subprocess.run(["ffbench", "run", *args], check=False)


def table(path: str) -> str:
    df = pd.read_parquet(path)
    df = df[(df["status"] == "ok") & df["class"].isna() & df["class_b"].isna()]
    df = df[df["stat"].isin(["accuracy", "sparsity"])]
    df["col"] = [s if pd.isna(l) else f"{s} L{int(l)}" for s, l in zip(df["stat"], df["layer"])]
    per_seed = df.pivot_table(
        index=["dataset", "rule", "preset", "seed"], columns="col", values="value", aggfunc="last"
    ).reset_index()
    cols = [c for c in per_seed.columns if c.startswith(("accuracy", "sparsity"))]
    agg = per_seed.groupby(["dataset", "rule", "preset"])[cols].agg(["mean", "std", "count"])
    lines = []
    for dataset, block in agg.groupby(level=0):
        lines += [
            f"\n**{dataset}** (evaluated on the validation split)\n",
            "| rule | preset | seeds | " + " | ".join(cols) + " | max abs Hoyer diff to paper |",
            "|---" * (len(cols) + 4) + "|",
        ]
        for (_, rule, preset), r in block.iterrows():
            base = rule.split("[")[0]
            ref = block[[k[1].split("[")[0] == base and k[2] == "paper" for k in block.index]]
            cells = [f"{r[(c, 'mean')]:.3f} ± {0 if pd.isna(r[(c, 'std')]) else r[(c, 'std')]:.3f}" for c in cols]
            diff = ""
            if preset != "paper" and len(ref):
                d = [abs(r[(c, "mean")] - ref.iloc[0][(c, "mean")]) for c in cols if c.startswith("sparsity")]
                diff = f"{max(d):.3f}"
            lines.append(f"| {rule} | {preset} | {int(r[(cols[0], 'count')])} | " + " | ".join(cells) + f" | {diff} |")
    return "\n".join(lines)


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
