"""A report from a leaderboard: aggregates (mean, std, n) per configuration, no artifacts. The
comparison figures that read only stats are drawn (per-seed dots where the board keeps its
per-seed rows); figures that need artifacts are listed as not drawn."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ffbench.report.builder import Builder
from ffbench.report.compose import Declared
from ffbench.report.figure_api import Artifact, NotDrawn
from ffbench.report.html import Page, Section
from ffbench.report.labels import ID_COLUMNS
from ffbench.report.source import BOARD_COLUMNS

NO_ARTIFACTS = "a leaderboard holds no artifacts; report on the results file the board was built from"


class NoArtifacts(NotDrawn):
    """A figure needs artifacts, and a leaderboard has none."""


class BoardReport(Builder):
    """A leaderboard: aggregates (mean, std, n) per configuration, no artifacts; its per-seed rows,
    when the board keeps them, give the seed dots of per-layer figures."""

    def __init__(self, df: pd.DataFrame, path: Path, out: Path, seed_rows: pd.DataFrame | None = None):
        super().__init__(df, path, out)
        self.seed_rows = seed_rows
        if "headline" not in self.df.columns:  # an aggregated table from elsewhere: every stat is shown
            self.df["headline"] = True
        if "higher_is_better" not in self.df.columns:
            self.df["higher_is_better"] = pd.NA
        self.missing: list[str] = []  # figures not drawn for want of artifacts

    # -- what figures read (ReportSource) -----------------------------------------------------
    def artifact(self, run_id: str, metric: str) -> Artifact:
        raise NoArtifacts(NO_ARTIFACTS + ".")

    def artifact_runs(self, metric: str) -> list[tuple[str, str]]:
        raise NoArtifacts(NO_ARTIFACTS + ".")

    def summary(self) -> pd.DataFrame:
        rows = self.df[self.df["class"].isna() & self.df["class_b"].isna()]
        return rows[["series", "metric", "stat", "layer", "mean", "std", "n", "headline"]].reset_index(drop=True)

    def metric_rows(self, metric: str) -> pd.DataFrame:
        """The board's per-seed rows of ``metric`` with their series (empty for an aggregated board)."""
        if self.seed_rows is None:
            return pd.DataFrame(columns=["series", "metric", "stat", "layer", "class", "class_b", "value"])
        rows = self.seed_rows[self.seed_rows["metric"] == metric]
        label = {tuple(k): s for k, s in zip(self.df[list(ID_COLUMNS)].itertuples(index=False), self.df["series"])}
        series = [label.get(tuple(k)) for k in rows[list(ID_COLUMNS)].itertuples(index=False)]
        return rows.assign(series=series).dropna(subset=["series"])

    def layer_points(self, metric: str, stat: str) -> pd.DataFrame | None:
        if self.seed_rows is None:
            return None
        rows = self.metric_rows(metric)
        rows = rows[(rows["stat"] == stat) & rows["class"].isna() & rows["layer"].notna()]
        return rows[["series", "layer", "value"]]

    def model_points(self, metric: str, stat: str) -> None:
        """None: a board's values are aggregates per configuration, not paired by run point."""
        return None

    # -- figures ------------------------------------------------------------------------------
    def per_model_section(self, section: Section, d: Declared) -> None:
        self.missing.append(f"'{d.key}' ({d.metric})")
        return None

    def not_drawn(self, section: Section, d: Declared, exc: NotDrawn) -> Section | None:
        """Figures that need artifacts are named in one note (no section each); other reasons as usual."""
        if isinstance(exc, NoArtifacts):
            self.missing.append(f"'{d.key}' ({d.metric})")
            return None
        return super().not_drawn(section, d, exc)

    def page(self) -> Page:
        sections = self.sections()
        if self.missing:
            self.notes.append(
                "A leaderboard holds no artifacts: the per-model figures and the figures that read "
                f"artifacts are not drawn ({', '.join(self.missing)}); they need a results file."
            )
        config = (
            self.df.groupby("series", sort=False)
            .agg(
                rule=("rule", "first"),
                goodness=("goodness", "first"),
                negatives=("negatives", "first"),
                dataset=("dataset", "first"),
                seeds=("n", "max"),
                metrics=("metric", lambda m: ", ".join(sorted(set(m)))),
            )
            .reset_index()
        )
        meta = [
            ("source", str(self.path)),
            ("kind", "leaderboard"),
            ("generated", datetime.now(timezone.utc).isoformat(timespec="seconds")),
        ]
        appendix = [("Provenance", self.provenance())]
        return Page(
            f"ffbench leaderboard report: {self.path.name}",
            meta,
            [("Configurations", config)],
            sections,
            appendix,
            self.notes,
            self.colours,
        )

    def provenance(self) -> pd.DataFrame:
        """Per run point where the board keeps per-seed rows, else whatever the aggregate carries."""
        if self.seed_rows is not None:
            rows = self.seed_rows.drop_duplicates("run_id")
            cols = [
                c
                for c in (
                    "run_id",
                    "rule_id",
                    "goodness_id",
                    "negatives_id",
                    "dataset_id",
                    "seed",
                    "git_sha",
                    "ffbench_version",
                    "torch_version",
                    "device",
                    "started_at",
                )
                if c in rows.columns
            ]
            return rows[cols].reset_index(drop=True)
        skip = {*BOARD_COLUMNS, *ID_COLUMNS, "class_b", "series", "headline", "higher_is_better", "metric_version"}
        cols = [c for c in self.df.columns if c not in skip]
        return self.df[["series", *cols]].drop_duplicates("series").reset_index(drop=True)
