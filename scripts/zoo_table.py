"""The README's zoo table, from the committed board: one row per rule of the latest `zoo` suite
version on leaderboards/fashion-mnist-mini.parquet, mean ± std over seeds.

    python scripts/zoo_table.py [BOARD]

Columns: test accuracy; layer-1 Hoyer sparsity, live-unit Hoyer, dead fraction (sparsity);
layer-1 ensemble activity share and selectivity (loo-ensembles); linear-probe accuracy of layers 1
and 3; and the cost rows: training seconds (machine- and load-dependent), the rule's analytic
training GFLOP (machine-independent; "n/c" where the rule counts none) and peak memory in MiB
(CPU: resident-set growth, an estimate).
"""

from __future__ import annotations

import sys

import pandas as pd

#: (header, metric name, stat, layer or None, format)
COLUMNS = [
    ("accuracy", "accuracy", "accuracy", None, "{:.3f}"),
    ("Hoyer L1", "sparsity", "sparsity", 1, "{:.3f}"),
    ("live Hoyer L1", "sparsity", "hoyer_live", 1, "{:.3f}"),
    ("dead L1", "sparsity", "dead_fraction", 1, "{:.3f}"),
    ("activity share L1", "loo-ensembles", "activity_share", 1, "{:.3f}"),
    ("selectivity L1", "loo-ensembles", "selectivity", 1, "{:.3f}"),
    ("probe L1", "linear-probe", "accuracy", 1, "{:.3f}"),
    ("probe L3", "linear-probe", "accuracy", 3, "{:.3f}"),
    ("train s", "cost", "train_seconds", None, "{:.0f}"),
    ("GFLOP", "cost", "train_flops", None, "{:.0f}"),
    ("peak MiB", "cost", "peak_memory_mib", None, "{:.0f}"),
]
#: the papers' three rules first, then the zoo's, the untrained control last
ORDER = ("ff", "bp-ff", "bp", "mono-forward", "dfa", "cafo", "pepita", "random")
NO_STD = {"train s", "GFLOP", "peak MiB"}


def table(board: str) -> str:
    df = pd.read_parquet(board)
    tagged = df[df["suite"] == "zoo"]
    latest = max(tagged["suite_version"].dropna(), key=int)
    # the configurations of the latest zoo run; their rows whatever run made them last (a unit
    # rerun by another suite, e.g. quick, with the same configuration and seed replaces the zoo's)
    configs = set(tagged.loc[tagged["suite_version"] == latest, "rule_id"])
    zoo = df[df["rule_id"].isin(configs) & df["class"].isna() & df["class_b"].isna()]
    lines = [
        f"| rule | {' | '.join(c[0] for c in COLUMNS)} | seeds |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    order = {name: i for i, name in enumerate(ORDER)}
    for rule in sorted(dict.fromkeys(zoo["rule_id"]), key=lambda r: (order.get(r.split("[")[0], len(ORDER)), r)):
        rows = zoo[zoo["rule_id"] == rule]
        cells = []
        for header, metric, stat, layer, fmt in COLUMNS:
            sel = rows[(rows["metric"] == metric) & (rows["stat"] == stat)]
            sel = sel[sel["layer"].isna()] if layer is None else sel[sel["layer"] == layer]
            values = sel.groupby("seed")["value"].last()
            if stat == "train_flops":
                values = values / 1e9
            if values.empty:
                cells.append("–")
            elif values.isna().all():
                cells.append("n/c" if stat == "train_flops" else "–")
            elif header in NO_STD or len(values) < 2:
                cells.append(fmt.format(values.mean()))
            else:
                cells.append(f"{fmt.format(values.mean())} ± {fmt.format(values.std())}")
        seeds = rows["seed"].nunique()
        lines.append(f"| {rule.split('[')[0]} | {' | '.join(cells)} | {seeds} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1] if len(sys.argv) > 1 else "leaderboards/fashion-mnist-mini.parquet"))
