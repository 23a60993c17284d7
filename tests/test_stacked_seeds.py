"""Seeds trained together as one stacked model (FFRule.fit_seeds) against the same seeds trained
one by one, on a small real subset; and the fast trainer's layer-1 fold against the plain
normalise-then-matmul definition.

Every seed draws its initialisation, negatives and batch order from its own generator in the same
order either way, so stacked seed s follows the trajectory of seed s trained alone: only the
rounding of the batched matmuls differs (~1e-7 per step). A stack that mixed up the seeds' random
streams (or their gradients) would land on unrelated weights.
"""

import pytest
import torch
from conftest import accuracy

from ffbench.contracts import NegativeGenerator, TrainContext
from ffbench_plugins.goodness.norms import L2Goodness, SumSquaresGoodness
from ffbench_plugins.metrics.sparsity import hoyer
from ffbench_plugins.negatives.hard import HardNegatives
from ffbench_plugins.negatives.wrong_label import WrongLabelNegatives, draw_wrong_labels
from ffbench_plugins.rules.ff import FFRule, FoldedInput, RowInput
from ffbench_plugins.rules.ff_pieces import LabelEmbedding, normalize

SEEDS = [0, 1, 2]


class OtherImageNegatives(NegativeGenerator):
    """Negatives that are *other* images (a random permutation) with wrong labels: the trainer
    cannot fold layer 1 and takes its general path."""

    name = "other-image"
    version = "1"
    params = ()

    def generate(self, x, y, *, allowed, generator, scores=None):
        perm = torch.randperm(len(y), generator=generator, device=y.device)
        return x[perm], draw_wrong_labels(y[perm], allowed, generator)


def ctx(seed: int) -> TrainContext:
    return TrainContext(torch.device("cpu"), seed, list(range(10)), 10)


def mean_sparsity(model, data) -> float:
    reps = model.representations(data.test.x, data.test.y)
    return float(torch.nanmean(torch.stack([hoyer(r.double()).nanmean() for r in reps])))


@pytest.mark.parametrize(
    "rule, goodness, negatives",
    [
        (FFRule(epochs=3, width=64, layers=2, batch_size=200), L2Goodness(), WrongLabelNegatives()),
        (FFRule(epochs=2, width=64, layers=3, batch_size=250), L2Goodness(), WrongLabelNegatives(resample=True)),
        (
            FFRule(epochs=3, width=64, layers=2, batch_size=200, schedule="simultaneous"),
            SumSquaresGoodness(),
            HardNegatives(),
        ),
        (FFRule(epochs=2, width=48, layers=3, batch_size=250), L2Goodness(), OtherImageNegatives()),
    ],
    ids=["greedy-fixed", "greedy-resampled", "simultaneous-hard", "greedy-other-images"],
)
def test_stacked_seeds_follow_the_separate_runs(tiny_data, rule, goodness, negatives):
    stacked = rule.fit_seeds(tiny_data, goodness, negatives, [ctx(s) for s in SEEDS])
    alone = [rule.fit(tiny_data, goodness, negatives, ctx(s)) for s in SEEDS]
    for s, a in zip(stacked, alone):
        for ws, wa in zip(s.weights(), a.weights()):
            assert ws.shape == wa.shape and ws.is_contiguous()
            assert ws.untyped_storage().nbytes() == ws.numel() * ws.element_size()  # not a view of the stack
            torch.testing.assert_close(ws, wa, rtol=0, atol=1e-4)
        assert abs(accuracy(s, tiny_data) - accuracy(a, tiny_data)) <= 0.01
        assert mean_sparsity(s, tiny_data) == pytest.approx(mean_sparsity(a, tiny_data), abs=0.01)
    # the seeds are different models (not one model copied S times)
    assert not torch.allclose(stacked[0].weights()[0], stacked[1].weights()[0], atol=1e-2)


def test_stacked_seeds_learn(tiny_data):
    rule = FFRule(epochs=15, width=128, layers=2, batch_size=100)
    models = rule.fit_seeds(tiny_data, L2Goodness(), WrongLabelNegatives(), [ctx(s) for s in SEEDS])
    accs = [accuracy(m, tiny_data) for m in models]
    assert min(accs) > 0.5, accs
    assert len({round(a, 4) for a in accs}) > 1  # different seeds, different results


def test_fold_equals_normalise_then_matmul():
    """The folded layer 1 (one matmul over the images, labels added as scaled weight rows) gives
    the pre-activations of normalize(embed(x, label)) @ W + b, for positives and negatives."""
    g = torch.Generator().manual_seed(0)
    emb = LabelEmbedding((3, 4, 4), num_classes=3, value=2.5)  # RGB: a label pixel in every channel
    x = torch.randn(6, 48, generator=g)
    y, y_neg = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([[1, 2, 0, 2, 0, 1], [2, 0, 1, 1, 2, 0]])
    w, b = torch.randn(2, 48, 5, generator=g), torch.randn(2, 5, generator=g)  # two stacked seeds
    idx = torch.tensor([[4, 1, 0], [2, 5, 3]])
    folded = FoldedInput(*emb.fold(x), y, y_neg, emb).pre(w, b, idx)
    rows = torch.stack([torch.cat([normalize(emb(x, y)), normalize(emb(x, y_neg[s]))]) for s in range(2)])
    plain = RowInput(rows).pre(w, b, idx)
    torch.testing.assert_close(folded, plain, rtol=1e-5, atol=1e-6)
    # frozen outputs (layer 2's input) agree too: normalised activity, positives then negatives
    torch.testing.assert_close(
        FoldedInput(*emb.fold(x), y, y_neg, emb).frozen(w, b).x, RowInput(rows).frozen(w, b).x, rtol=1e-5, atol=1e-6
    )
