"""Category-specific ensembles (Tosato et al.; docs/science.md, "Metrics"): `loo-ensembles`, `jaccard`,
`unseen-category`. All three share one definition of ensemble membership.

**Leave-one-out (LOO) membership.** Per layer and class c, m_j = mean activity of unit j over the
class-c samples read. Unit i is in E_c iff (m_i - mu_i) / mu_i > tau, with mu_i = mean_{j != i} m_j
= (sum_j m_j - m_i) / (D - 1). Decisions where the text is silent:

- the test is evaluated as m_i - mu_i > tau * mu_i, which is the same for mu_i > 0 and gives the
  limit of the ratio for mu_i == 0: a unit active while every other unit is silent is a member
  (ratio -> +inf), a silent unit never is (0/0);
- the ratio is strict: a unit exactly at ratio == tau is not a member;
- activity must be non-negative (post-ReLU): with negative means the ratio test is meaningless, so
  it is refused. The three metrics check it first (``TrainedModel.require_nonnegative``): a model
  that declares ``nonnegative_activity = False``, or whose activity has a negative value, gets a
  failed metric row naming the metric, the rule and the layer. Activity share and selectivity
  (ratios of summed means) need the same;
- a class with no samples read has no class mean (NaN row in ``class_mean_L*``), no ensemble, no
  per-class rows, and is left out of every mean; ``missing_classes`` counts them.

**Jaccard of two empty ensembles** is undefined (0/0) and is left out (NaN in the matrices, no
per-pair ``jaccard`` row, excluded from the layer mean), with the number of such pairs reported as
``empty_pairs``. Neither 0 nor 1 is neutral: 0 would make a model without ensembles (typical of BP)
look maximally category-specific, 1 would make it look maximally shared. A pair with one empty and
one non-empty ensemble is well defined (J = 0).

**Ensemble strength** (`loo-ensembles`, version 2). Ensemble size alone cannot tell "few units carry
the class" from "many units just pass the threshold"; two more stats separate them:

- ``activity_share`` of class c = sum_{i in E_c} m_i / sum_i m_i, the fraction of the class's summed
  mean activity carried by its ensemble units, in [0, 1] (0 for an empty ensemble). A class that
  evokes no activity at all (sum 0) has no share: no row, left out of the layer mean. The layer row
  (class None) is the mean over the present classes that have a share.
- ``selectivity`` of a unit = max_c m_c / sum_c m_c over its class means of the present classes
  (1/C: no preference, 1: active for one class only). Defined for live units only (class means not
  all zero); dead units are NaN in the ``selectivity_L*`` artifact and left out of every stat. Per
  layer: the mean (``selectivity``) and the median (``selectivity_median``, the average of the two
  middle values for an even count) over the live units. Per class c: the mean selectivity of the
  live units whose preferred class (argmax of their class means; ties go to the first class) is c,
  with their count ``preferring_units`` (no ``selectivity`` row for a class no unit prefers).

Headline stats of `loo-ensembles`: ``size``, ``activity_share``, ``selectivity``. ``tau`` is 1 by
default, as in the papers' definition; the authors' per-class ensemble plots use tau = 2
(``loo-ensembles[tau=2]``).
"""

from __future__ import annotations

from typing import Any

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import DatasetBundle, Evaluation, Metric, MetricResult, MetricRow, TrainingVariant
from ffbench.errors import ParameterError
from ffbench_plugins.metrics.sparsity import hoyer

#: samples per class kept in the ``sample_activity_L*`` artifacts (for activity "wall" plots)
SAMPLES_PER_CLASS = 20

#: ``unseen-category``'s held-out class when ``holdout`` is auto, by dataset name (every other
#: dataset: class 0). The paper's figure holds out Sandal (class 5) on Fashion-MNIST.
DEFAULT_HOLDOUT: dict[str, int] = {"fashion-mnist": 5, "fashion-mnist-mini": 5}

TAU = Param(
    "tau", float, 1.0, "LOO threshold: unit i is in E_c iff (m_i - mean_{j!=i} m_j) / mean_{j!=i} m_j > tau", min=0.0
)
SAMPLES = Param(
    "samples", str, "correct", "test samples read: correctly classified, or all", choices=("correct", "all")
)


# ---------------------------------------------------------------------------------------
# The shared pieces
# ---------------------------------------------------------------------------------------


def class_means(h: torch.Tensor, y: torch.Tensor, keep: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean activity per class of the kept samples, [C, D] float64; NaN rows for classes without
    samples."""
    h, y = h[keep].double(), y[keep]
    sums = torch.zeros(num_classes, h.shape[1], dtype=torch.float64).index_add_(0, y, h)
    counts = torch.bincount(y, minlength=num_classes)
    means = sums / counts.unsqueeze(1)
    means[counts == 0] = float("nan")
    return means


def loo_ensembles(means: torch.Tensor, tau: float) -> torch.Tensor:
    """LOO ensemble membership [C, D] (bool) from class means [C, D]; NaN rows (classes without
    samples) have no members. See the module docstring for the edge cases."""
    d = means.shape[-1]
    if d < 2:
        raise ValueError("LOO ensembles need at least 2 units per layer")
    valid = ~torch.isnan(means).any(dim=1)
    if (means[valid] < 0).any():
        raise ValueError("LOO ensembles need non-negative (post-ReLU) activity; got a negative class mean")
    means = means.double()
    others = (means.sum(dim=1, keepdim=True) - means) / (d - 1)
    member = (means - others) > tau * others
    member[~valid] = False
    return member


def jaccard_matrix(ensembles: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(J [C, C] float64, shared [C, C] int64) for ensembles [C, D] of the classes marked ``valid``.
    J is NaN where both sets are empty and wherever a class has no samples; shared is -1 there."""
    e = ensembles.double()
    shared = (e @ e.T).round().long()
    sizes = e.sum(dim=1)
    union = sizes[:, None] + sizes[None, :] - shared
    jac = torch.where(union > 0, shared / union.clamp(min=1), torch.full_like(union, float("nan")))
    pair_valid = valid[:, None] & valid[None, :]
    jac[~pair_valid] = float("nan")
    shared[~pair_valid] = -1
    return jac, shared


def first_per_class(y: torch.Tensor, keep: torch.Tensor, num_classes: int, n: int = SAMPLES_PER_CLASS) -> torch.Tensor:
    """Indices of the first ``n`` kept samples of each class, grouped by class in class order."""
    return torch.cat([torch.nonzero(keep & (y == c)).flatten()[:n] for c in range(num_classes)])


def per_layer_means(ev: Evaluation, keep: torch.Tensor, metric: str | None = None) -> list[torch.Tensor]:
    """Class means [C, D] per layer of the kept samples. With ``metric`` (a metric's name), first
    check that the activity is non-negative (``ModelCapabilityError`` naming the metric and the
    rule otherwise); without it, ``loo_ensembles`` still refuses negative class means."""
    if metric is not None:
        ev.model.require_nonnegative(metric, ev.representations)
    return [class_means(h, ev.y, keep, len(ev.classes)) for h in ev.representations]


def present_classes(ev: Evaluation, keep: torch.Tensor) -> torch.Tensor:
    """Which classes have at least one kept sample, [C] bool."""
    return torch.bincount(ev.y[keep], minlength=len(ev.classes)) > 0


def selectivity(means: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(selectivity [D] float64, preferred class [D] int64) of every unit from class means [C, D],
    over the classes marked ``present``: max_c m_c / sum_c m_c and the argmax (first class on ties).
    Dead units (class means all zero) get NaN and -1."""
    idx = torch.nonzero(present).flatten()
    m = means[idx].double()
    d = means.shape[1]
    if idx.numel() == 0:
        return torch.full((d,), float("nan"), dtype=torch.float64), torch.full((d,), -1, dtype=torch.long)
    total = m.sum(dim=0)
    top, arg = m.max(dim=0)
    live = total > 0
    sel = torch.where(live, top / total.clamp(min=1e-300), torch.full_like(total, float("nan")))
    preferred = torch.where(live, idx[arg], torch.full_like(arg, -1))
    return sel, preferred


def layer_artifacts(
    ev: Evaluation, keep: torch.Tensor, means: list[torch.Tensor], ensembles: list[torch.Tensor]
) -> dict[str, Any]:
    """The per-layer arrays every ensemble metric saves: class means, ensembles, sample activity."""
    idx = first_per_class(ev.y, keep, len(ev.classes))
    out: dict[str, Any] = {"sample_labels": ev.y[idx].numpy().astype("int64")}
    for layer, (m, e, h) in enumerate(zip(means, ensembles, ev.representations), start=1):
        out[f"class_mean_L{layer}"] = m.float().numpy()
        out[f"ensemble_L{layer}"] = e.numpy()
        out[f"sample_activity_L{layer}"] = h[idx].to(torch.float16).numpy()
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


# ---------------------------------------------------------------------------------------
# The metrics
# ---------------------------------------------------------------------------------------


class LOOEnsembles(Metric):
    name = "loo-ensembles"
    version = "2"
    description = (
        "category-specific ensembles per layer by the leave-one-out rule: sizes, unit sets, "
        "activity share and unit selectivity"
    )
    higher_is_better = None
    headline = ("size", "activity_share", "selectivity")
    stat_help = {
        "size": "units in a class's leave-one-out ensemble, mean over classes, 0 .. layer width",
        "activity_share": "share of a class's mean activity carried by its ensemble, mean over classes, 0 .. 1",
        "selectivity": "a live unit's largest class mean / sum of its class means, mean over units, 1/C .. 1",
    }
    params = (TAU, SAMPLES)

    @classmethod
    def figures(cls):
        from ffbench_plugins.metrics.ensembles_figures import LOO_FIGURES

        return LOO_FIGURES

    def compute(self, ev: Evaluation) -> MetricResult:
        keep = ev.sample_mask(self.values["samples"])
        tau, classes = self.values["tau"], ev.classes
        is_present = present_classes(ev, keep)
        present = torch.nonzero(is_present).flatten().tolist()
        rows: list[MetricRow] = []
        means, ensembles = [], []
        units: dict[str, Any] = {}
        for layer, m in enumerate(per_layer_means(ev, keep, self.name), start=1):
            e = loo_ensembles(m, tau)
            means.append(m)
            ensembles.append(e)
            sizes = e.sum(dim=1).tolist()
            rows += [MetricRow("size", float(sizes[c]), layer=layer, cls=classes[c]) for c in present]
            mean_size = _mean([float(sizes[c]) for c in present])
            rows += [
                MetricRow("size", mean_size, layer=layer),
                MetricRow("fraction", mean_size / e.shape[1], layer=layer),
                MetricRow("coverage", float(e.any(dim=0).double().mean()), layer=layer),
            ]
            share = _activity_share(m, e)
            shares = [(float(share[c]), c) for c in present if not torch.isnan(share[c])]
            rows += [MetricRow("activity_share", v, layer=layer, cls=classes[c]) for v, c in shares]
            rows.append(MetricRow("activity_share", _mean([v for v, _ in shares]), layer=layer))
            sel, preferred = selectivity(m, is_present)
            live = ~torch.isnan(sel)
            rows += [
                MetricRow("selectivity", float(sel[live].mean()) if live.any() else float("nan"), layer=layer),
                MetricRow(
                    "selectivity_median",
                    float(torch.quantile(sel[live], 0.5)) if live.any() else float("nan"),
                    layer=layer,
                ),
            ]
            for c in present:
                mine = preferred == c
                n = int(mine.sum())
                rows.append(MetricRow("preferring_units", float(n), layer=layer, cls=classes[c]))
                if n:
                    rows.append(MetricRow("selectivity", float(sel[mine].mean()), layer=layer, cls=classes[c]))
            units[f"units_L{layer}"] = {classes[c]: torch.nonzero(e[c]).flatten().tolist() for c in present}
            units[f"selectivity_L{layer}"] = sel.float().numpy()
        rows.append(MetricRow("missing_classes", float(len(classes) - len(present))))
        artifacts = layer_artifacts(ev, keep, means, ensembles)
        artifacts.update(classes=list(classes), tau=tau, **units)
        return MetricResult(rows, artifacts)


class Jaccard(Metric):
    name = "jaccard"
    version = "1"
    description = "Jaccard index and shared units of the LOO ensembles of every class pair, per layer"
    higher_is_better = None
    headline = ("jaccard",)
    stat_help = {
        "jaccard": "overlap of two classes' ensembles (shared / all units), mean over pairs, 0 .. 1",
    }
    params = (TAU, SAMPLES)

    @classmethod
    def figures(cls):
        from ffbench_plugins.metrics.ensembles_figures import JACCARD_FIGURES

        return JACCARD_FIGURES

    def compute(self, ev: Evaluation) -> MetricResult:
        keep = ev.sample_mask(self.values["samples"])
        classes = ev.classes
        rows: list[MetricRow] = []
        artifacts: dict[str, Any] = {"classes": list(classes)}
        valid = present_classes(ev, keep)
        for layer, m in enumerate(per_layer_means(ev, keep, self.name), start=1):
            jac, shared = jaccard_matrix(loo_ensembles(m, self.values["tau"]), valid)
            defined: list[tuple[float, int, int]] = []
            empty_pairs = 0
            for a in range(len(classes)):
                for b in range(a + 1, len(classes)):
                    if shared[a, b] < 0:  # a class without samples
                        continue
                    rows.append(MetricRow("shared", float(shared[a, b]), layer=layer, cls=classes[a], cls_b=classes[b]))
                    if torch.isnan(jac[a, b]):
                        empty_pairs += 1
                        continue
                    defined.append((float(jac[a, b]), a, b))
                    rows.append(MetricRow("jaccard", float(jac[a, b]), layer=layer, cls=classes[a], cls_b=classes[b]))
            rows += [
                MetricRow("jaccard", _mean([j for j, _, _ in defined]), layer=layer),
                MetricRow("empty_pairs", float(empty_pairs), layer=layer),
            ]
            if defined:
                j, a, b = max(defined, key=lambda t: t[0])  # the first pair wins ties
                rows.append(MetricRow("max_pair", j, layer=layer, cls=classes[a], cls_b=classes[b]))
            artifacts[f"jaccard_L{layer}"] = jac.float().numpy()
            artifacts[f"shared_L{layer}"] = shared.numpy()
        return MetricResult(rows, artifacts)


class UnseenCategory(Metric):
    """Ensembles evoked by a class the model never saw (Tosato et al.).

    The runner trains a model with class ``holdout`` removed from training (as positives and as
    negative labels). Class-k test samples are all read (the model was never trained to classify
    them, so "correctly classified" is no criterion for them); seen classes read their correctly
    classified samples, as everywhere else. Per layer:

    - ``size``: |E_k|, the LOO ensemble of the unseen class;
    - ``strength``: the share of class k's mean activity carried by its ensemble,
      sum_{i in E_k} m_i / sum_j m_j, in [0, 1] (0 for an empty ensemble; no row when class-k
      samples evoke no activity at all). A share, not a ratio of means, so that it does not grow
      with the layer width; ``seen_size`` / ``seen_strength`` give the same numbers averaged over
      the seen classes as the reference the unseen class is compared with;
    - ``overlap``: J(E_k, E_c) per seen class c (cls = k, cls_b = c), ``max_overlap`` their maximum;
    - ``shared``: the raw count |E_k n E_c| per seen class c (cls = k, cls_b = c), next to the
      Jaccard value, and ``max_shared`` their maximum (a Jaccard of 0.5 may be 1 unit of 2 or 50 of
      100);
    - ``sparsity``: mean Hoyer sparsity of the class-k samples (all-zero samples skipped).

    Default holdout (``auto``) as in the paper: Sandal (class 5) on Fashion-MNIST
    (``fashion-mnist``, ``fashion-mnist-mini``; table ``DEFAULT_HOLDOUT``), class 0 on every other
    dataset (every dataset has a class 0). ``holdout=K`` picks class K on any dataset.
    """

    name = "unseen-category"
    version = "2"
    description = "ensemble, strength and overlap evoked by a class held out of training"
    higher_is_better = None
    headline = ("size", "strength")
    stat_help = {
        "size": "units in the ensemble of the class held out of training, 0 .. layer width",
        "strength": "share of the held-out class's mean activity carried by its ensemble, 0 .. 1",
    }
    params = (
        Param(
            "holdout",
            int,
            None,
            "index of the class removed from training (auto: Sandal, 5, on Fashion-MNIST as in the paper, 0 elsewhere)",
            min=0,
        ),
        TAU,
    )

    @classmethod
    def figures(cls):
        from ffbench_plugins.metrics.ensembles_figures import UNSEEN_FIGURES

        return UNSEEN_FIGURES

    def check_holdout(self, data: DatasetBundle) -> int:
        """The held-out class index (auto resolved from the dataset name), validated against the
        dataset's classes."""
        k, n = self.values["holdout"], data.num_classes
        if k is None:
            k = DEFAULT_HOLDOUT.get(data.name, 0)
        if n < 3:
            raise ParameterError(
                f"unseen-category needs a dataset with at least 3 classes (2 left to train on); '{data.name}' has {n}."
            )
        if k >= n:
            raise ParameterError(
                f"Bad value {k} for parameter 'unseen-category.holdout': dataset "
                f"'{data.name}' has {n} classes, valid values are 0..{n - 1}."
            )
        return k

    def training_variant(self, data: DatasetBundle) -> TrainingVariant:
        return TrainingVariant(holdout=(self.check_holdout(data),))

    def compute(self, ev: Evaluation) -> MetricResult:
        k, classes = self.check_holdout(ev.data), ev.classes
        unseen = ev.y == k
        if not unseen.any():
            raise ValueError(f"the test split has no samples of the held-out class {k} ({classes[k]})")
        keep = unseen | (ev.correct & ~unseen)
        seen = [c for c in range(len(classes)) if c != k]
        rows: list[MetricRow] = []
        means, ensembles = [], []
        artifacts: dict[str, Any] = {"holdout": k, "classes": list(classes), "tau": self.values["tau"]}
        valid = present_classes(ev, keep)
        present = [c for c in seen if valid[c]]
        for layer, (m, h) in enumerate(zip(per_layer_means(ev, keep, self.name), ev.representations), start=1):
            e = loo_ensembles(m, self.values["tau"])
            means.append(m)
            ensembles.append(e)
            jac, shared = jaccard_matrix(e, valid)
            share = _activity_share(m, e)
            rows.append(MetricRow("size", float(e[k].sum()), layer=layer))
            if not torch.isnan(share[k]):
                rows.append(MetricRow("strength", float(share[k]), layer=layer))
            rows += [
                MetricRow("seen_size", _mean([float(e[c].sum()) for c in present]), layer=layer),
                MetricRow(
                    "seen_strength", _mean([float(share[c]) for c in present if not torch.isnan(share[c])]), layer=layer
                ),
            ]
            overlaps = [(float(jac[k, c]), c) for c in present if not torch.isnan(jac[k, c])]
            rows += [MetricRow("overlap", j, layer=layer, cls=classes[k], cls_b=classes[c]) for j, c in overlaps]
            if overlaps:
                rows.append(MetricRow("max_overlap", max(j for j, _ in overlaps), layer=layer))
            counts = [(float(shared[k, c]), c) for c in present]
            rows += [MetricRow("shared", n, layer=layer, cls=classes[k], cls_b=classes[c]) for n, c in counts]
            if counts:
                rows.append(MetricRow("max_shared", max(n for n, _ in counts), layer=layer))
            rows.append(MetricRow("sparsity", _mean_hoyer(h[unseen]), layer=layer))
            overlap = jac[k].clone()
            overlap[k] = float("nan")
            artifacts[f"overlap_L{layer}"] = overlap.float().numpy()
        artifacts.update(layer_artifacts(ev, keep, means, ensembles))
        return MetricResult(rows, artifacts)


def _mean_hoyer(h: torch.Tensor) -> float:
    """Mean Hoyer sparsity of the rows of h, all-zero rows skipped (NaN if all are zero)."""
    s = hoyer(h.double())
    s = s[~torch.isnan(s)]
    return float(s.mean()) if s.numel() else float("nan")


def _activity_share(means: torch.Tensor, ensembles: torch.Tensor) -> torch.Tensor:
    """Per class, the share of its mean activity carried by its ensemble units ([C], NaN where the
    class has no samples or evokes no activity)."""
    total = means.sum(dim=1)
    inside = (means * ensembles).sum(dim=1)
    return torch.where(total > 0, inside / total.clamp(min=1e-300), torch.full_like(total, float("nan")))


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(LOOEnsembles)
    register(Jaccard)
    register(UnseenCategory)
