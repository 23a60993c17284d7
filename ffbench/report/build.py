"""Build a report: read a results file or a leaderboard, decide which figures apply, write the
PNGs and ``index.html``.

From a results file (``ffbench run``): the per-model figures (activation maps, one class's mean
activity, Jaccard maps, the unseen category) come from one representative run point per series
(its lowest seed with the metric's artifact); the comparison figures (sparsity per layer, rho+,
accuracy vs sparsity, per-metric bars) from every ok run point. From a leaderboard (``mean``,
``std``, ``n`` columns): the comparison figures only, since a board holds no artifacts.

A series is one rule/goodness/negatives/dataset combination (seeds pooled); its label names only
what tells it apart from the others. A figure whose metric was not run is skipped with a note
saying how to get it, never an error.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from ffbench.errors import FFBenchError
from ffbench.report import figures as F
from ffbench.report.html import FigureRef, Page, Section, write_index
from ffbench.results import headline_flags, read_results

ID_COLUMNS = ("rule", "goodness", "negatives", "dataset")
BOARD_COLUMNS = ("rule", "dataset", "metric", "stat", "layer", "class", "mean", "std", "n")
PER_MODEL = ("loo-ensembles", "jaccard", "unseen-category")
BOARD_SCHEMA_KEY = "ffbench_leaderboard_schema"  # ffbench.leaderboard.SCHEMA_KEY (imported only for boards)


class ArtifactError(FFBenchError):
    """An artifact that lacks an array or field a figure needs (written by another metric version)."""


@dataclass
class Report:
    out: Path
    index: Path
    sections: list[Section]
    notes: list[str]

    @property
    def files(self) -> list[Path]:
        """Every PNG written, in page order."""
        return [self.out / f.file for s in self.sections for f in s.figures]


def default_out(path: Path) -> Path:
    """``results.parquet`` -> ``results-report/`` next to it."""
    return path.with_name(path.stem + "-report")


def build_report(path: str | Path, out: str | Path | None = None, class_name: str | None = None) -> Report:
    """Write every applicable figure and ``index.html`` for the results file or leaderboard at
    ``path`` into ``out`` (default :func:`default_out`)."""
    path = Path(path)
    source = read_source(path)
    out = Path(out) if out is not None else default_out(path)
    out.mkdir(parents=True, exist_ok=True)
    if source.kind == "board":
        builder: _Builder = BoardReport(source.frame, path, out, source.seed_rows)
    else:
        builder = ResultsReport(source.frame, path, out, class_name)
    page = builder.page()
    return Report(out, write_index(out, page), page.sections, page.notes)


@dataclass
class Source:
    """What a report is built from: a results file's rows, or a leaderboard's aggregates (mean,
    std, n per configuration and cell) with its per-seed rows where the board keeps them."""

    kind: str  # "results" or "board"
    frame: pd.DataFrame
    seed_rows: pd.DataFrame | None = None


def read_source(path: Path) -> Source:
    """A leaderboard written by ``ffbench leaderboard`` (its schema key in the Parquet metadata; per-seed
    rows, aggregated here), an aggregated board (``mean`` column, no ``value``), or a results file."""
    if not path.exists():
        raise FFBenchError(f"No results file or leaderboard at {path}.")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:
        raise FFBenchError(f"{path} is not a readable Parquet file ({exc}).") from None
    if BOARD_SCHEMA_KEY.encode() in (schema.metadata or {}):
        from ffbench.leaderboard import aggregate, read_board

        rows = read_board(path)
        return Source("board", aggregate(rows), rows)
    if "mean" in schema.names and "value" not in schema.names:
        missing = [c for c in BOARD_COLUMNS if c not in schema.names]
        if missing:
            raise FFBenchError(f"{path} looks like an aggregated leaderboard but lacks columns {', '.join(missing)}.")
        df = pq.read_table(path).to_pandas()
        for col in ("goodness", "negatives", "class_b"):
            if col not in df.columns:
                df[col] = None
        return Source("board", df)
    return Source("results", read_results(path))


# -- series labels --------------------------------------------------------------------------


def compact_identities(values: list[str]) -> dict[str, str]:
    """Shortest names that still tell identities apart: the base name where it is unique, else the
    base with only the parameters that differ among the identities sharing it."""
    by_base: dict[str, list[str]] = {}
    for v in dict.fromkeys(values):
        by_base.setdefault(v.partition("[")[0], []).append(v)
    names: dict[str, str] = {}
    for base, ids in by_base.items():
        if len(ids) == 1:
            names[ids[0]] = base
            continue
        params = {i: i.partition("[")[2].rstrip("]").split(",") for i in ids}
        common = set.intersection(*(set(p) for p in params.values()))
        for i in ids:
            kept = [p for p in params[i] if p and p not in common]
            names[i] = f"{base}[{','.join(kept)}]" if kept else base
    return names


def series_labels(keys: pd.DataFrame) -> pd.Series:
    """A label per row of ``keys`` (the ID columns): the rule, plus every other ID column whose
    non-null values differ between combinations, each as short as stays unambiguous."""
    combos = keys[list(ID_COLUMNS)].drop_duplicates()
    varying = [c for c in ID_COLUMNS if c == "rule" or combos[c].dropna().nunique() > 1]
    names = {c: compact_identities(combos[c].dropna().tolist()) for c in varying}

    def label(row: pd.Series, cols: list[str], short: bool) -> str:
        return " · ".join((names[c][row[c]] if short else row[c]) for c in cols if pd.notna(row[c]))

    labels = keys.apply(lambda r: label(r, varying, True), axis=1)
    if labels.nunique() != len(combos):  # abbreviations collided: fall back to full identities
        labels = keys.apply(lambda r: label(r, list(ID_COLUMNS), False), axis=1)
    return labels.astype(object)


def slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-") or "series"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def mean_std(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"


# -- shared ---------------------------------------------------------------------------------


class _Builder(ABC):
    """What results and leaderboard reports share: series, colours, the comparison figures."""

    def __init__(self, df: pd.DataFrame, path: Path, out: Path):
        self.path, self.out = path, out
        self.notes: list[str] = []
        df = df.copy()
        df["series"] = series_labels(df)
        self.df = df
        order = list(dict.fromkeys(df["series"]))
        rule_of = df.drop_duplicates("series").set_index("series")["rule"]
        self.colours = F.palette({s: str(rule_of[s]).partition("[")[0] for s in order})
        taken: set[str] = set()
        self.slugs = {s: slug(s, taken) for s in order}

    def save(self, fig: Figure, name: str) -> str:
        file = f"{name}.png"
        fig.savefig(self.out / file)
        return file

    @abstractmethod
    def summary(self) -> pd.DataFrame:
        """series, metric, stat, layer, mean, std, n, headline of the rows over all classes."""

    @abstractmethod
    def accuracy_points(self) -> pd.DataFrame:
        """series, layer, sparsity, accuracy (+ sparsity_std, accuracy_std for aggregates)."""

    @abstractmethod
    def page(self) -> Page:
        """Write every figure that applies; the page that shows them."""

    def sparsity_points(self) -> pd.DataFrame | None:
        return None

    def sparsity_section(self) -> Section:
        section = Section("sparsity", "3. Hoyer sparsity per layer",
                          "Mean Hoyer sparsity of post-ReLU activity over test samples, per layer and "
                          "series; bars: mean over seeds, error bars: std over seeds, dots: single seeds.")
        summary = self.summary()
        rows = summary[(summary["metric"] == "sparsity") & (summary["stat"] == "sparsity")
                       & summary["layer"].notna()]
        if rows.empty:
            section.skipped = "metric 'sparsity' was not run; add it with --metric sparsity."
            return section
        fig = F.sparsity_by_layer(rows, self.colours, "Hoyer sparsity per layer", self.sparsity_points())
        section.figures.append(FigureRef(self.save(fig, "sparsity-by-layer"), "Hoyer sparsity per layer, every series"))
        return section

    def accuracy_section(self) -> Section:
        section = Section("accuracy-sparsity", "7. Accuracy vs sparsity",
                          "Test accuracy against Hoyer sparsity of each layer, across all run points.")
        have = set(self.df["metric"])
        missing = [m for m in ("accuracy", "sparsity") if m not in have]
        if missing:
            section.skipped = f"needs metrics {' and '.join(missing)}; add --metric accuracy,sparsity."
            return section
        points = self.accuracy_points().dropna(subset=["sparsity", "accuracy"])
        if points.empty:
            section.skipped = "no run point has both an accuracy and a sparsity value."
            return section
        fig = F.accuracy_vs_sparsity(points, self.colours, "Accuracy vs Hoyer sparsity")
        section.figures.append(FigureRef(self.save(fig, "accuracy-vs-sparsity"), "Accuracy vs sparsity per layer"))
        return section

    def bars_section(self) -> Section:
        section = Section("metric-bars", "8. Every metric, side by side",
                          "Each metric's headline stats over all classes (per layer where the metric has "
                          "layers): mean over seeds, error bars: std over seeds.")
        summary = self.summary()
        keep = summary["headline"].fillna(False).astype(bool)
        keep &= ~((summary["metric"] == "sparsity") & (summary["stat"] == "sparsity"))  # figure 3
        higher = (self.df.dropna(subset=["higher_is_better"]).drop_duplicates("metric")
                  .set_index("metric")["higher_is_better"])
        taken: set[str] = set()
        for metric, rows in summary[keep].groupby("metric", sort=False):
            hib = bool(higher[metric]) if metric in higher.index else None
            fig = F.metric_bars(rows, str(metric), self.colours, hib)
            file = self.save(fig, "metric-" + slug(str(metric), taken))
            section.figures.append(FigureRef(file, f"Metric {metric}: headline stats, every series"))
        if not section.figures:
            section.skipped = "no headline stats beyond those drawn above."
        return section


# -- results files --------------------------------------------------------------------------


class ResultsReport(_Builder):
    def __init__(self, df: pd.DataFrame, path: Path, out: Path, class_name: str | None):
        self.failed = df[df["status"] == "failed"]
        ok = df[df["status"] == "ok"]
        if ok.empty:
            raise FFBenchError(f"{path} has no successful rows to report on "
                               f"({self.failed['run_id'].nunique()} failed run point(s)).")
        super().__init__(ok, path, out)
        self.class_name = class_name
        self.runs = self.df.groupby("run_id", sort=False).first()
        self._artifacts: dict[tuple[str, str], tuple[dict, dict]] = {}

    # -- artifacts ----------------------------------------------------------------------
    def artifact(self, run_id: str, metric: str) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, JSON fields) of one run point's metric artifact."""
        key = (run_id, metric)
        if key not in self._artifacts:
            rows = self.df[(self.df["run_id"] == run_id) & (self.df["metric"] == metric) & self.df["artifact"].notna()]
            base = self.path.parent / str(rows["artifact"].iloc[0])
            npz, js = base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
            if not npz.exists() and not js.exists():
                raise ArtifactError(f"the {metric} artifact of run {run_id} is missing ({npz} / {js}); "
                                    "was the results file moved without its .artifacts folder?")
            arrays: dict[str, np.ndarray] = {}
            if npz.exists():
                with np.load(npz, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
            meta = json.loads(js.read_text()) if js.exists() else {}
            self._artifacts[key] = (arrays, meta)
        return self._artifacts[key]

    def runs_with(self, metric: str) -> pd.DataFrame:
        """Run points that saved an artifact for ``metric``, lowest seed first."""
        ids = self.df.loc[(self.df["metric"] == metric) & self.df["artifact"].notna(), "run_id"].unique()
        runs = self.runs.loc[list(ids)]
        return runs.sort_values(["seed"], kind="stable")

    def representatives(self, metric: str) -> dict[str, str]:
        """series -> run_id of its lowest seed with an artifact for ``metric``, in series order."""
        runs = self.runs_with(metric)
        return {s: runs.index[runs["series"] == s][0] for s in self.colours if (runs["series"] == s).any()}

    def classes_of(self, run_id: str, n: int) -> list[str]:
        """Class names of a run point: from any of its artifacts' JSON, else the order of its
        per-class accuracy rows, else class indices."""
        for metric in (*PER_MODEL, "excitation"):
            if not self.runs_with(metric).index.isin([run_id]).any():
                continue
            try:
                classes = self.artifact(run_id, metric)[1].get("classes")
            except ArtifactError:
                continue
            if classes and len(classes) == n:
                return [str(c) for c in classes]
        rows = self.df[(self.df["run_id"] == run_id) & (self.df["metric"] == "accuracy") & self.df["class"].notna()]
        names = list(dict.fromkeys(rows["class"]))
        return names if len(names) == n else [f"class {i}" for i in range(n)]

    def ensembles(self, run_id: str, metric: str) -> F.Ensembles:
        arrays, meta = self.artifact(run_id, metric)
        numbers = sorted(int(m.group(1)) for k in arrays if (m := re.fullmatch(r"class_mean_L(\d+)", k)))
        need = ["sample_labels"] + [f"{p}_L{n}" for n in numbers for p in ("ensemble", "sample_activity")]
        missing = [k for k in need if k not in arrays] or ([] if numbers else ["class_mean_L1"])
        if missing:
            raise ArtifactError(f"the {metric} artifact of run {run_id} lacks {', '.join(missing)}.")
        layers = [F.LayerEnsembles(n, arrays[f"class_mean_L{n}"], arrays[f"ensemble_L{n}"].astype(bool),
                                   arrays[f"sample_activity_L{n}"].astype(np.float32)) for n in numbers]
        classes = self.classes_of(run_id, layers[0].class_mean.shape[0])
        return F.Ensembles(classes, layers, arrays["sample_labels"].astype(int), float(meta.get("tau", 1.0)))

    def title(self, series: str, run_id: str) -> str:
        return f"{series} (seed {self.runs.loc[run_id, 'seed']}, run {run_id})"

    # -- per-model figures ----------------------------------------------------------------
    def per_model(self, section: Section, metric: str, draw) -> Section:
        """Fill ``section`` with one figure per series from ``draw(series, run_id) -> (Figure, caption)``."""
        reps = self.representatives(metric)
        if not reps:
            section.skipped = f"metric '{metric}' was not run; add it with --metric {metric}."
            return section
        for series, run_id in reps.items():
            try:
                fig, caption = draw(series, run_id)
            except ArtifactError as exc:
                self.notes.append(f"{section.title}: {series} left out: {exc}")
                continue
            section.figures.append(FigureRef(self.save(fig, f"{section.key}-{self.slugs[series]}"), caption))
        if not section.figures:
            section.skipped = f"no usable '{metric}' artifact (see the notes above)."
        return section

    def activation_section(self) -> Section:
        section = Section("activation-maps", "1. Activation maps per layer",
                          "Post-ReLU activity (blue) of test samples (rows, grouped by class; grey rows: "
                          "classes with fewer samples read, by default correctly classified ones) for every "
                          "hidden unit (columns). Orange ticks under "
                          "each class's block mark its LOO ensemble: an ensemble shows as blue vertical "
                          "stripes over orange ticks.")

        def draw(series: str, run_id: str):
            ens = self.ensembles(run_id, "loo-ensembles")
            return F.activation_maps(ens, self.title(series, run_id)), f"Activation maps of {series}"

        return self.per_model(section, "loo-ensembles", draw)

    def class_index(self, classes: list[str]) -> int:
        if self.class_name is None:
            return 0
        exact = [i for i, c in enumerate(classes) if c == self.class_name]
        folded = [i for i, c in enumerate(classes) if c.casefold() == self.class_name.casefold()]
        if exact or folded:
            return (exact or folded)[0]
        raise FFBenchError(f"Unknown class '{self.class_name}'. Valid classes: {', '.join(classes)}.")

    def class_mean_section(self) -> Section:
        section = Section("class-mean", "2. Mean activity per unit for one class",
                          "Mean activity of each hidden unit over the chosen class's test samples; units "
                          "of the class's LOO ensemble in the series colour, the LOO threshold dashed "
                          "(choose the class with --class).")

        def draw(series: str, run_id: str):
            ens = self.ensembles(run_id, "loo-ensembles")
            cls = self.class_index(ens.classes)
            fig = F.class_mean_activity(ens, cls, self.title(series, run_id), self.colours[series])
            return fig, f"Mean activity per unit of {series}, class '{ens.classes[cls]}'"

        section = self.per_model(section, "loo-ensembles", draw)
        if section.skipped and self.class_name:
            self.notes.append(f"--class {self.class_name} was not used: metric 'loo-ensembles' was not run.")
        return section

    def jaccard_section(self) -> Section:
        section = Section("jaccard", "4. Jaccard similarity of class ensembles",
                          "J(E_a, E_b) = |E_a ∩ E_b| / |E_a ∪ E_b| for every pair of classes, per layer "
                          "(one colour scale for all series); similar-looking classes share units. Grey: "
                          "the diagonal, and pairs where J is undefined (both ensembles empty, or a class "
                          "without correctly classified samples).")

        def matrices(run_id: str) -> tuple[list[int], dict[str, np.ndarray]]:
            arrays, _ = self.artifact(run_id, "jaccard")
            numbers = sorted(int(m.group(1)) for k in arrays if (m := re.fullmatch(r"jaccard_L(\d+)", k)))
            if not numbers:
                raise ArtifactError(f"the jaccard artifact of run {run_id} has no jaccard_L<layer> array.")
            return numbers, arrays

        shown = []  # one colour scale for every series' maps
        for run_id in self.representatives("jaccard").values():
            try:
                numbers, arrays = matrices(run_id)
            except ArtifactError:
                continue  # noted when its figure is drawn
            shown += [arrays[f"jaccard_L{n}"] for n in numbers]
        vmax = F.jaccard_vmax(shown)

        def draw(series: str, run_id: str):
            numbers, arrays = matrices(run_id)
            mats = [arrays[f"jaccard_L{n}"] for n in numbers]
            sizes = ([np.diag(arrays[f"shared_L{n}"]) for n in numbers]
                     if all(f"shared_L{n}" in arrays for n in numbers) else None)
            classes = self.classes_of(run_id, mats[0].shape[0])
            fig = F.jaccard_maps(mats, classes, self.title(series, run_id), numbers, sizes, vmax)
            return fig, f"Jaccard maps of {series}"

        return self.per_model(section, "jaccard", draw)

    def unseen_section(self) -> Section:
        section = Section("unseen-category", "5. An unseen category",
                          "A network trained with one class held out (positives and negatives), shown that "
                          "class's test images: the activity it evokes (red block) next to the seen classes, "
                          "and how much each seen class's ensemble overlaps the unseen class's ensemble.")

        def draw(series: str, run_id: str):
            arrays, meta = self.artifact(run_id, "unseen-category")
            if "holdout" not in meta:
                raise ArtifactError(f"the unseen-category artifact of run {run_id} has no 'holdout' field.")
            ens = self.ensembles(run_id, "unseen-category")
            missing = [f"overlap_L{l.number}" for l in ens.layers if f"overlap_L{l.number}" not in arrays]
            if missing:
                raise ArtifactError(f"the unseen-category artifact of run {run_id} lacks {', '.join(missing)}.")
            overlap = [arrays[f"overlap_L{l.number}"] for l in ens.layers]
            holdout = int(meta["holdout"])
            fig = F.unseen_category(ens, holdout, overlap, self.title(series, run_id), self.colours[series])
            return fig, f"Unseen category '{ens.classes[holdout]}' in {series}"

        return self.per_model(section, "unseen-category", draw)

    # -- comparison figures ---------------------------------------------------------------
    def excitation_section(self) -> Section:
        section = Section("excitation", "6. Excitatory weights: ρ+ per unit",
                          "For each hidden unit, the fraction ρ+ of its incoming weights that are positive; "
                          "histograms over units per layer, every seed of a series pooled.")
        runs = self.runs_with("excitation")
        if runs.empty:
            section.skipped = "metric 'excitation' was not run; add it with --metric excitation."
            return section
        rho: dict[str, dict[int, list[np.ndarray]]] = {}
        edges = None
        for run_id, run in runs.iterrows():
            arrays, _ = self.artifact(str(run_id), "excitation")
            per_layer = {int(m.group(1)): arrays[k] for k in arrays if (m := re.fullmatch(r"rho_plus_L(\d+)", k))}
            if not per_layer or "bin_edges" not in arrays:
                self.notes.append(f"{section.title}: run {run_id} left out: its artifact lacks "
                                  "rho_plus_L<layer> or bin_edges.")
                continue
            edges = arrays["bin_edges"] if edges is None else edges
            for n, values in per_layer.items():
                rho.setdefault(run["series"], {}).setdefault(n, []).append(np.ravel(values))
        if edges is None:
            section.skipped = "no usable 'excitation' artifact (see the notes above)."
            return section
        pooled = {s: {n: np.concatenate(v) for n, v in layers.items()} for s, layers in rho.items()}
        fig = F.excitation_histograms(pooled, np.asarray(edges), self.colours, "ρ+ per unit, per layer")
        section.figures.append(FigureRef(self.save(fig, "excitation"), "ρ+ histograms per layer, every series"))
        return section

    def summary(self) -> pd.DataFrame:
        rows = self.df[self.df["class"].isna() & self.df["class_b"].isna()]
        rows = rows.assign(headline=headline_flags(rows).to_numpy(dtype=bool))
        grouped = rows.groupby(["series", "metric", "stat", "layer"], dropna=False, sort=False)
        return grouped.agg(mean=("value", "mean"), std=("value", "std"), n=("value", "count"),
                           headline=("headline", "any")).reset_index()

    def sparsity_points(self) -> pd.DataFrame:
        rows = self.df[(self.df["metric"] == "sparsity") & (self.df["stat"] == "sparsity")
                       & self.df["class"].isna() & self.df["layer"].notna()]
        return rows[["series", "run_id", "layer", "value"]]

    def accuracy_points(self) -> pd.DataFrame:
        acc = self.df[(self.df["metric"] == "accuracy") & (self.df["stat"] == "accuracy")
                      & self.df["class"].isna() & self.df["layer"].isna()]
        sp = self.sparsity_points().rename(columns={"value": "sparsity"})
        return sp.merge(acc[["run_id", "value"]].rename(columns={"value": "accuracy"}), on="run_id")

    # -- the page -------------------------------------------------------------------------
    def page(self) -> Page:
        if self.class_name is not None:  # a bad --class fails before any figure is written
            reps = self.representatives("loo-ensembles")
            if reps:
                self.class_index(self.ensembles(next(iter(reps.values())), "loo-ensembles").classes)
        sections = [self.activation_section(), self.class_mean_section(), self.sparsity_section(),
                    self.jaccard_section(), self.unseen_section(), self.excitation_section(),
                    self.accuracy_section(), self.bars_section()]
        if not self.failed.empty:
            self.notes.append(f"{self.failed['run_id'].nunique()} run point(s) had failed metrics; "
                              "they are left out of the figures (see 'Failures' at the end).")
        versions = ", ".join(sorted(self.df["ffbench_version"].dropna().unique())) or "unknown"
        meta = [("source", str(self.path)), ("kind", "results file"),
                ("run points", f"{self.runs.shape[0]} ok, {self.failed['run_id'].nunique()} with failures"),
                ("ffbench", versions), ("generated", datetime.now(timezone.utc).isoformat(timespec="seconds"))]
        appendix = [("Provenance: run points", self.provenance()), ("Provenance: components", self.components())]
        if not self.failed.empty:
            fails = self.failed.assign(series=series_labels(self.failed))
            appendix.append(("Failures", fails[["run_id", "series", "seed", "metric", "error"]]))
        return Page(f"ffbench report: {self.path.name}", meta,
                    [("Configuration", self.configuration()), ("Headline results", self.headlines())],
                    sections, appendix, self.notes, self.colours)

    def configuration(self) -> pd.DataFrame:
        runs = self.runs.reset_index()
        rows = []
        for s in self.colours:
            r = runs[runs["series"] == s]
            first = r.iloc[0]
            rows.append({"series": s, "rule": first["rule_id"], "goodness": first["goodness_id"],
                         "negatives": first["negatives_id"], "dataset": first["dataset_id"],
                         "preset": first["preset"], "seeds": ", ".join(str(x) for x in sorted(r["seed"].dropna())),
                         "metrics": ", ".join(sorted(self.df.loc[self.df["series"] == s, "metric"].unique()))})
        return pd.DataFrame(rows)

    def headlines(self) -> pd.DataFrame:
        summary = self.summary()
        table = pd.DataFrame({"series": list(self.colours)})
        acc = summary[(summary["metric"] == "accuracy") & (summary["stat"] == "accuracy") & summary["layer"].isna()]
        if not acc.empty:
            table["accuracy"] = [mean_std(*_pick(acc, s)) for s in table["series"]]
        sp = summary[(summary["metric"] == "sparsity") & (summary["stat"] == "sparsity") & summary["layer"].notna()]
        for layer in sorted(sp["layer"].astype(int).unique()):
            at = sp[sp["layer"] == layer]
            table[f"sparsity L{layer}"] = [mean_std(*_pick(at, s)) for s in table["series"]]
        table["seeds"] = [int(self.runs.loc[self.runs["series"] == s, "seed"].nunique()) for s in table["series"]]
        return table

    def provenance(self) -> pd.DataFrame:
        cols = ["series", "seed", "preset", "cached", "train_seconds", "started_at", "git_sha", "ffbench_version",
                "torch_version", "python_version", "device", "dataset_hash", "config_hash"]
        return self.runs.reset_index()[["run_id"] + cols]

    def components(self) -> pd.DataFrame:
        parts = []
        for kind in ("rule", "goodness", "negatives", "dataset", "metric"):
            cols = [f"{kind}_id", f"{kind}_version", f"{kind}_dist", f"{kind}_dist_version"]
            part = self.df[cols].dropna(subset=[f"{kind}_id"]).drop_duplicates()
            part.columns = ["identity", "version", "distribution", "distribution version"]
            parts.append(part.assign(kind=kind))
        table = pd.concat(parts, ignore_index=True)
        return table[["kind", "identity", "version", "distribution", "distribution version"]]


def _pick(summary: pd.DataFrame, series: str) -> tuple[float, float]:
    row = summary[summary["series"] == series]
    return (float(row["mean"].iloc[0]), float(row["std"].iloc[0])) if len(row) else (float("nan"), float("nan"))


# -- leaderboards ---------------------------------------------------------------------------


class BoardReport(_Builder):
    """A leaderboard: aggregates (mean, std, n) per configuration, no artifacts; its per-seed rows,
    when the board keeps them, give the seed dots of the sparsity figure."""

    def __init__(self, df: pd.DataFrame, path: Path, out: Path, seed_rows: pd.DataFrame | None = None):
        super().__init__(df, path, out)
        self.seed_rows = seed_rows
        if "headline" not in self.df.columns:  # an aggregated table from elsewhere: every stat is shown
            self.df["headline"] = True
        if "higher_is_better" not in self.df.columns:
            self.df["higher_is_better"] = pd.NA

    def summary(self) -> pd.DataFrame:
        rows = self.df[self.df["class"].isna() & self.df["class_b"].isna()]
        return rows[["series", "metric", "stat", "layer", "mean", "std", "n", "headline"]].reset_index(drop=True)

    def sparsity_points(self) -> pd.DataFrame | None:
        if self.seed_rows is None:
            return None
        rows = self.seed_rows
        rows = rows[(rows["metric"] == "sparsity") & (rows["stat"] == "sparsity") & rows["class"].isna()
                    & rows["layer"].notna()]
        label = {tuple(k): s for k, s in zip(self.df[list(ID_COLUMNS)].itertuples(index=False), self.df["series"])}
        series = [label.get(tuple(k)) for k in rows[list(ID_COLUMNS)].itertuples(index=False)]
        return rows.assign(series=series).dropna(subset=["series"])[["series", "layer", "value"]]

    def accuracy_points(self) -> pd.DataFrame:
        summary = self.summary()
        acc = summary[(summary["metric"] == "accuracy") & (summary["stat"] == "accuracy") & summary["layer"].isna()]
        sp = summary[(summary["metric"] == "sparsity") & (summary["stat"] == "sparsity") & summary["layer"].notna()]
        sp = sp.rename(columns={"mean": "sparsity", "std": "sparsity_std"})
        acc = acc.rename(columns={"mean": "accuracy", "std": "accuracy_std"})
        return sp[["series", "layer", "sparsity", "sparsity_std"]].merge(
            acc[["series", "accuracy", "accuracy_std"]], on="series")

    def page(self) -> Page:
        sections = [self.sparsity_section(), self.accuracy_section(), self.bars_section()]
        self.notes.append("A leaderboard holds no artifacts: the per-model figures (activation maps, "
                          "class mean activity, Jaccard maps, unseen category, ρ+) need a results file.")
        config = (self.df.groupby("series", sort=False)
                  .agg(rule=("rule", "first"), goodness=("goodness", "first"), negatives=("negatives", "first"),
                       dataset=("dataset", "first"), seeds=("n", "max"),
                       metrics=("metric", lambda m: ", ".join(sorted(set(m)))))
                  .reset_index())
        meta = [("source", str(self.path)), ("kind", "leaderboard"),
                ("generated", datetime.now(timezone.utc).isoformat(timespec="seconds"))]
        appendix = [("Provenance", self.provenance())]
        return Page(f"ffbench leaderboard report: {self.path.name}", meta, [("Configurations", config)],
                    sections, appendix, self.notes, self.colours)

    def provenance(self) -> pd.DataFrame:
        """Per run point where the board keeps per-seed rows, else whatever the aggregate carries."""
        if self.seed_rows is not None:
            rows = self.seed_rows.drop_duplicates("run_id")
            cols = [c for c in ("run_id", "rule_id", "goodness_id", "negatives_id", "dataset_id", "seed", "git_sha",
                                "ffbench_version", "torch_version", "device", "started_at") if c in rows.columns]
            return rows[cols].reset_index(drop=True)
        skip = {*BOARD_COLUMNS, *ID_COLUMNS, "class_b", "series", "headline", "higher_is_better", "metric_version"}
        cols = [c for c in self.df.columns if c not in skip]
        return self.df[["series", *cols]].drop_duplicates("series").reset_index(drop=True)
