"""A report from a results file (``ffbench run``): per-model figures from one representative run
point per series (its lowest seed with the metric's artifact), comparison figures from every ok
run point, the configuration, headline and provenance tables."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ffbench.errors import FFBenchError
from ffbench.report.builder import Builder
from ffbench.report.compose import Declared, attempt
from ffbench.report.figure_api import Artifact, NotDrawn, RunView
from ffbench.report.html import FigureRef, Page, Section
from ffbench.report.labels import mean_std, series_labels
from ffbench.results import artifacts_folder, headline_flags
from ffbench.safe_paths import is_inside


class ResultsReport(Builder):
    lists_installed = True

    def __init__(self, df: pd.DataFrame, path: Path, out: Path, class_name: str | None = None):
        self.failed = df[df["status"] == "failed"]
        ok = df[df["status"] == "ok"]
        if ok.empty:
            raise FFBenchError(
                f"{path} has no successful rows to report on ({self.failed['run_id'].nunique()} failed run point(s))."
            )
        super().__init__(ok, path, out, {"class": class_name})
        self.runs = self.df.groupby("run_id", sort=False).first()
        self._artifacts: dict[tuple[str, str], Artifact] = {}

    # -- artifacts and run points (ReportSource) ----------------------------------------------
    def artifact(self, run_id: str, metric: str) -> Artifact:
        key = (run_id, metric)
        if key not in self._artifacts:
            rows = self.df[(self.df["run_id"] == run_id) & (self.df["metric"] == metric) & self.df["artifact"].notna()]
            if rows.empty:
                raise NotDrawn(f"run {run_id} saved no {metric} artifact.")
            stem = str(rows["artifact"].iloc[0])
            base = self.path.parent / stem
            npz, js = base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
            own = artifacts_folder(self.path)
            if not (is_inside(npz, own) and is_inside(js, own)):  # a row's text never leads the report elsewhere
                raise NotDrawn(
                    f"the {metric} artifact of run {run_id} is recorded as {stem!r}, which lies outside this "
                    f"results file's artifact folder {own}; it was not read."
                )
            if not npz.exists() and not js.exists():
                raise NotDrawn(
                    f"the {metric} artifact of run {run_id} is missing ({npz} / {js}); "
                    "was the results file moved without its .artifacts folder?"
                )
            arrays: dict[str, np.ndarray] = {}
            if npz.exists():
                try:
                    with np.load(npz, allow_pickle=False) as z:
                        arrays = {k: z[k] for k in z.files}
                except Exception as exc:  # a damaged or foreign file: this figure is not drawn, the report goes on
                    raise NotDrawn(f"the {metric} artifact of run {run_id} ({npz}) is not readable ({exc}).") from None
            try:
                meta = json.loads(js.read_text(encoding="utf-8")) if js.exists() else {}
            except (UnicodeDecodeError, ValueError) as exc:
                raise NotDrawn(f"the {metric} artifact of run {run_id} ({js}) is not JSON text ({exc}).") from None
            if not isinstance(meta, dict):
                raise NotDrawn(f"the {metric} artifact of run {run_id} ({js}) does not hold a JSON object.")
            self._artifacts[key] = Artifact(metric, run_id, arrays, meta)
        return self._artifacts[key]

    def artifact_runs(self, metric: str) -> list[tuple[str, str]]:
        """(series, run_id) of every run point with an artifact of ``metric``: series order, lowest seed first."""
        ids = self.df.loc[(self.df["metric"] == metric) & self.df["artifact"].notna(), "run_id"].unique()
        runs = self.runs.loc[list(ids)].sort_values(["seed"], kind="stable")
        return [(s, str(r)) for s in self.colours for r in runs.index[runs["series"] == s]]

    def representatives(self, metric: str) -> dict[str, str]:
        """series -> run_id of its lowest seed with an artifact for ``metric``, in series order."""
        reps: dict[str, str] = {}
        for series, run_id in self.artifact_runs(metric):
            reps.setdefault(series, run_id)
        return reps

    def run_rows(self, run_id: str, metric: str) -> pd.DataFrame:
        return self.df[(self.df["run_id"] == run_id) & (self.df["metric"] == metric)]

    def run_seed(self, run_id: str) -> int | None:
        seed = self.runs.loc[run_id, "seed"]
        return None if pd.isna(seed) else int(seed)

    def run_title(self, series: str, run_id: str) -> str:
        return f"{series} (seed {self.runs.loc[run_id, 'seed']}, run {run_id})"

    def classes_of(self, run_id: str, n: int) -> list[str]:
        """From any of the run's artifacts' ``classes`` field, else the first metric whose per-class
        rows name exactly ``n`` classes (in row order), else class indices."""
        rows = self.df[self.df["run_id"] == run_id]
        for metric in rows.loc[rows["artifact"].notna(), "metric"].unique():
            try:
                classes = self.artifact(run_id, str(metric)).meta.get("classes")
            except NotDrawn:
                continue
            if classes and len(classes) == n:
                return [str(c) for c in classes]
        for _, per_metric in rows[rows["class"].notna()].groupby("metric", sort=False):
            names = list(dict.fromkeys(per_metric["class"]))
            if len(names) == n:
                return [str(c) for c in names]
        return [f"class {i}" for i in range(n)]

    def metric_rows(self, metric: str) -> pd.DataFrame:
        return self.df[self.df["metric"] == metric]

    def layer_points(self, metric: str, stat: str) -> pd.DataFrame:
        rows = self.df[
            (self.df["metric"] == metric)
            & (self.df["stat"] == stat)
            & self.df["class"].isna()
            & self.df["class_b"].isna()
            & self.df["layer"].notna()
        ]
        return rows[["series", "run_id", "layer", "value"]]

    def summary(self) -> pd.DataFrame:
        rows = self.df[self.df["class"].isna() & self.df["class_b"].isna()]
        rows = rows.assign(headline=headline_flags(rows).to_numpy(dtype=bool))
        grouped = rows.groupby(["series", "metric", "stat", "layer"], dropna=False, sort=False)
        return grouped.agg(
            mean=("value", "mean"), std=("value", "std"), n=("value", "count"), headline=("headline", "any")
        ).reset_index()

    def model_points(self, metric: str, stat: str) -> pd.DataFrame:
        rows = self.df[
            (self.df["metric"] == metric)
            & (self.df["stat"] == stat)
            & self.df["class"].isna()
            & self.df["class_b"].isna()
            & self.df["layer"].isna()
        ]
        return rows[["series", "run_id", "value"]].reset_index(drop=True)

    # -- per-model figures ----------------------------------------------------------------
    def per_model_section(self, section: Section, d: Declared) -> Section:
        """One figure per series from its representative run point; a series whose figure cannot
        be drawn is left out with a note saying why."""
        reps = self.representatives(d.metric)
        if not reps:
            section.skipped = f"no run point saved a '{d.metric}' artifact."
            return section
        views = [RunView(self, d.metric, s, r) for s, r in reps.items()]
        for view in views:
            view.peers = views
            try:
                fig, caption = attempt(d.spec.draw, view, f"{d.spec.title}: {view.series}")
            except NotDrawn as exc:
                self.notes.append(f"{section.title}: {view.series} left out: {exc}")
                continue
            section.figures.append(FigureRef(self.keep(fig, f"{d.key}-{self.slugs[view.series]}"), caption))
        if not section.figures:
            section.skipped = "not drawn for any series (see the notes above)."
        return section

    # -- the page -------------------------------------------------------------------------
    def page(self) -> Page:
        sections = self.sections()
        if not self.failed.empty:
            self.notes.append(
                f"{self.failed['run_id'].nunique()} run point(s) had failed metrics; "
                "they are left out of the figures (see 'Failures' at the end)."
            )
        versions = ", ".join(sorted(self.df["ffbench_version"].dropna().unique())) or "unknown"
        meta = [
            ("source", str(self.path)),
            ("kind", "results file"),
            ("run points", f"{self.runs.shape[0]} ok, {self.failed['run_id'].nunique()} with failures"),
            ("ffbench", versions),
            ("generated", datetime.now(timezone.utc).isoformat(timespec="seconds")),
        ]
        appendix = [("Provenance: run points", self.provenance()), ("Provenance: components", self.components())]
        if not self.failed.empty:
            fails = self.failed.assign(series=series_labels(self.failed))
            appendix.append(("Failures", fails[["run_id", "series", "seed", "metric", "error"]]))
        return Page(
            f"ffbench report: {self.path.name}",
            meta,
            [("Configuration", self.configuration()), ("Headline results", self.headlines())],
            sections,
            appendix,
            self.notes,
            self.colours,
        )

    def configuration(self) -> pd.DataFrame:
        runs = self.runs.reset_index()
        rows = []
        for s in self.colours:
            r = runs[runs["series"] == s]
            first = r.iloc[0]
            rows.append(
                {
                    "series": s,
                    "rule": first["rule_id"],
                    "goodness": first["goodness_id"],
                    "negatives": first["negatives_id"],
                    "dataset": first["dataset_id"],
                    "preset": first["preset"],
                    "seeds": ", ".join(str(x) for x in sorted(r["seed"].dropna())),
                    "metrics": ", ".join(sorted(self.df.loc[self.df["series"] == s, "metric"].unique())),
                }
            )
        return pd.DataFrame(rows)

    def headlines(self) -> pd.DataFrame:
        """Every metric's headline stats over all classes: a row per metric, stat and layer (the
        whole model first, shown as a dash), a column per series (mean ± std over seeds); metrics in
        the order they first appear in the data, stats in the order they first appear."""
        summary = self.summary()
        summary = summary[summary["headline"].fillna(False).astype(bool)]
        cells: dict[tuple, dict[str, str]] = {}
        metrics = list(dict.fromkeys(summary["metric"]))
        for metric in metrics:
            of_metric = summary[summary["metric"] == metric]
            for stat in dict.fromkeys(of_metric["stat"]):
                rows = of_metric[of_metric["stat"] == stat]
                layers = rows["layer"]
                keys = ([None] if layers.isna().any() else []) + sorted(int(v) for v in layers.dropna().unique())
                for layer in keys:
                    at = rows[rows["layer"].isna()] if layer is None else rows[rows["layer"] == layer]
                    by_series = {s: mean_std(m, d) for s, m, d in zip(at["series"], at["mean"], at["std"])}
                    cells[(metric, stat, layer)] = {s: by_series.get(s, "–") for s in self.colours}
        table = pd.DataFrame(
            [{"metric": m, "stat": s, **values} for (m, s, _), values in cells.items()],
            columns=["metric", "stat", *self.colours],
        )
        table.insert(2, "layer", pd.Series([layer for _, _, layer in cells], dtype=object))
        return table

    def provenance(self) -> pd.DataFrame:
        cols = [
            "series",
            "seed",
            "preset",
            "cached",
            "train_seconds",
            "started_at",
            "git_sha",
            "ffbench_version",
            "torch_version",
            "python_version",
            "device",
            "dataset_hash",
            "config_hash",
        ]
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
