"""The README's figures (docs/figures/*.png) from a results file of the paper-fashion runs.

    python scripts/make_figures.py RESULTS.parquet [--out docs/figures]

Runs `ffbench report` on RESULTS (whose artifacts - class means, ensembles, Jaccard matrices -
the activation maps and heat maps need; a leaderboard keeps the rows but not the artifacts, so
from a board only the sparsity figure can be drawn) and keeps the key figures, shrunk to at most
800 px wide and palette-quantised so that they stay small in git:
sparsity per layer per rule, layer-1 activation maps with ensemble ticks per rule, Jaccard heat
maps per rule.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from ffbench.report import build_report

KEEP = ("sparsity-by-layer", "activation-maps-", "jaccard-", "metric-loo-ensembles", "metric-sparsity")
MAX_WIDTH = 800


def shrink(src: Path, dst: Path) -> None:
    img = Image.open(src).convert("RGB")
    if img.width > MAX_WIDTH:
        img = img.resize((MAX_WIDTH, round(img.height * MAX_WIDTH / img.width)), Image.LANCZOS)
    img.quantize(colors=32, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/figures"))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = build_report(a.results, Path(tmp))
        for png in sorted(Path(tmp).glob("*.png")):
            if png.name.startswith(KEEP):
                shrink(png, a.out / png.name)
                print(f"{a.out / png.name}: {(a.out / png.name).stat().st_size // 1024} KiB")
        for note in report.notes:
            print("note:", note)


if __name__ == "__main__":
    main()
