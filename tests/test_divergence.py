"""The runner's rule-agnostic divergence checks (ffbench/divergence.py), on hand-made losses,
weights, activations and predictions."""

from __future__ import annotations

import pytest
import torch

from ffbench.contracts import DatasetBundle, DataSplit, TrainContext
from ffbench.divergence import (
    ACTIVATION_LIMIT,
    LOSS_LIMIT,
    WEIGHT_LIMIT,
    LossHistory,
    WatchedTrainContext,
    chance_band,
    check_activations,
    check_chance,
    check_trained,
    check_weights,
)
from ffbench.errors import TrainingDivergedError


def history(*losses: tuple[str, float]) -> LossHistory:
    h = LossHistory()
    for where, value in losses:
        h.add(where, torch.tensor(value))
    return h


def test_a_loss_above_the_limit_stops_training_at_once():
    h = history(("epoch 1", 2.3))
    with pytest.raises(TrainingDivergedError, match=r"at epoch 2: the loss is 2\.1e\+32, above 1e\+08"):
        h.add("epoch 2", torch.tensor(2.1e32))
    assert LOSS_LIMIT == 1e8


def test_a_loss_that_grows_a_thousandfold_within_its_stream_diverged():
    h = history(("layer 1, epoch 1", 0.7), ("layer 1, epoch 2", 0.5))
    h.add("layer 1, epoch 3", torch.tensor(499.0))  # < 1000 x 0.5: a spike, not yet a blow-up
    with pytest.raises(TrainingDivergedError, match=r"grew to 501 from 0\.5 at layer 1, epoch 2, more than 1e\+03x"):
        h.add("layer 1, epoch 4", torch.tensor(501.0))


def test_streams_are_separate_and_tiny_losses_count_as_the_floor():
    h = history(("layer 1, epoch 1", 1e-6), ("layer 2, epoch 1", 5.0))  # another layer's scale: no growth
    h.add("layer 1, epoch 2", torch.tensor(9.0))  # 9 < 1000 x 0.01 (the floor), though 9e6 x its low
    with pytest.raises(TrainingDivergedError, match="grew to 11"):
        h.add("layer 1, epoch 3", torch.tensor(11.0))
    assert set(h.streams) == {"layer 1", "layer 2"}


def test_a_vector_loss_is_judged_by_its_largest_magnitude():
    h = history(("epoch 1", 1.0))
    with pytest.raises(TrainingDivergedError, match="grew to 2e\\+03"):
        h.add("epoch 2", torch.tensor([0.5, -2000.0, 0.1]))


def test_grown_reports_a_loss_that_ended_tenfold_above_its_low():
    assert history(("epoch 1", 2.0), ("epoch 2", 0.5), ("epoch 3", 4.9)).grown(10) is None
    evidence = history(("epoch 1", 2.0), ("epoch 2", 0.5), ("epoch 3", 5.0)).grown(10)
    assert evidence == "the loss ended at 5 (epoch 3), up from 0.5 (epoch 2)"


def test_the_watched_context_checks_nan_first_then_growth_and_draws_like_the_plain_one():
    ctx = WatchedTrainContext(device=torch.device("cpu"), seed=3, train_classes=list(range(10)), num_classes=10)
    plain = TrainContext(device=torch.device("cpu"), seed=3, train_classes=list(range(10)), num_classes=10)
    assert torch.equal(torch.rand(4, generator=ctx.generator), torch.rand(4, generator=plain.generator))
    with pytest.raises(TrainingDivergedError, match=r"the loss is \[nan\] \(not finite\)"):
        ctx.check_loss(torch.tensor(float("nan")), "epoch 1")
    ctx.check_loss(torch.tensor(1.0), "epoch 1")
    with pytest.raises(TrainingDivergedError, match="above 1e\\+08"):
        ctx.check_loss(torch.tensor(3e8), "epoch 2")
    assert ctx.losses.streams[""] == [("epoch 1", 1.0)]


def test_weights_that_are_not_finite_or_exploded_fail():
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(0.5)
        model.weight[1, 2] = WEIGHT_LIMIT  # at the limit: still healthy
    check_weights(model)
    with torch.no_grad():
        model.weight[1, 2] = -2 * WEIGHT_LIMIT
    with pytest.raises(TrainingDivergedError, match=r"largest magnitude 2e\+04 in weight, above 1e\+04"):
        check_weights(model)
    with torch.no_grad():
        model.bias[0] = float("inf")
    with pytest.raises(TrainingDivergedError, match="non-finite weights in bias"):
        check_weights(model)


class Fixed(torch.nn.Module):
    """A model whose representations and predictions are given."""

    def __init__(self, reps, predictions):
        super().__init__()
        self.reps, self.predictions = reps, predictions

    def representations(self, x, y):
        return self.reps

    def predict(self, x):
        return self.predictions


def bundle(labels: list[int]) -> DatasetBundle:
    y = torch.tensor(labels)
    split = DataSplit(torch.zeros(len(y), 1, 2, 2), y)
    return DatasetBundle("toy", split, split, [str(c) for c in range(int(y.max()) + 1)], (1, 2, 2), (0.0,), (1.0,), "h")


def test_activations_that_are_not_finite_or_exploded_fail():
    data, cpu = bundle([0, 1] * 4), torch.device("cpu")
    check_activations(Fixed([torch.full((8, 3), ACTIVATION_LIMIT)], None), data, cpu)
    with pytest.raises(TrainingDivergedError, match=r"layer 2 reaches 1\.5e\+09, above 1e\+06"):
        check_activations(Fixed([torch.ones(8, 3), torch.full((8, 3), -1.5e9)], None), data, cpu)
    with pytest.raises(TrainingDivergedError, match="layer 1's activity is not finite"):
        check_activations(Fixed([torch.full((8, 3), float("nan"))], None), data, cpu)


def test_chance_accuracy_with_an_exploded_loss_fails_and_either_alone_does_not():
    labels = [0, 1, 2, 3] * 25  # 100 balanced labels: chance 0.25 + 3 x sqrt(0.25 x 0.75 / 100) = 0.38
    assert chance_band(torch.tensor(labels)) == pytest.approx(0.25 + 3 * (0.25 * 0.75 / 100) ** 0.5)
    data, cpu = bundle(labels), torch.device("cpu")
    always_0 = Fixed([], torch.zeros(100, dtype=torch.long))  # accuracy 0.25
    half_right = Fixed([], torch.tensor([0, 1, 2, 3] * 12 + [0] * 52))  # accuracy 0.61
    exploded = history(("epoch 1", 2.0), ("epoch 2", 30.0))
    with pytest.raises(
        TrainingDivergedError, match=r"ended at 30 \(epoch 2\), up from 2 .* accuracy 0\.2500 is at chance"
    ):
        check_chance(always_0, data, cpu, exploded)
    check_chance(half_right, data, cpu, exploded)  # above chance: it learned something
    check_chance(always_0, data, cpu, history(("epoch 1", 2.0), ("epoch 2", 1.9)))  # at chance, loss fine: ok


def test_check_trained_passes_a_healthy_model():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    model.representations = lambda x, y: [x.flatten(1)]
    check_trained(model, bundle([0, 1] * 4), torch.device("cpu"), history(("epoch 1", 0.7), ("epoch 2", 0.6)))
