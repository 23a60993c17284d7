"""The FF options of the goodness study (issue 17 item 2): SGD with momentum, RMS normalisation
between layers (with layer 1's fold), peer normalisation, the straight-through ReLU and the linear
lr cool-down; hand-computed numbers where possible."""

import math

import pytest
import torch
from conftest import accuracy

from ffbench.component import ParameterError
from ffbench.contracts import TrainContext
from ffbench_plugins.goodness.dimcompress import DimCompressGoodness
from ffbench_plugins.goodness.norms import L2Goodness, SumSquaresGoodness
from ffbench_plugins.negatives.hard import NoNegatives
from ffbench_plugins.negatives.wrong_label import WrongLabelNegatives
from ffbench_plugins.rules.bp import BPRule
from ffbench_plugins.rules.bp_ff import BPFFRule
from ffbench_plugins.rules.ff import FFRule, FoldedInput, RowInput, StackedFF
from ffbench_plugins.rules.ff_pieces import LabelEmbedding, normalize, peer_norm_loss, relu_st, rms_normalize
from ffbench_plugins.rules.ffnet import FFNet
from ffbench_plugins.rules.training import cooldown_factor, make_optimizer


def cpu_ctx(seed: int) -> TrainContext:
    return TrainContext(torch.device("cpu"), seed, list(range(10)), 10)


# -- SGD with momentum ---------------------------------------------------------------------


def sgd_values(**kw):
    return {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "lr_schedule": "constant", **kw}


def test_sgd_momentum_matches_hand_steps():
    # loss = c . p, gradient c = [1, 2] at every step
    # step 1: v = c = [1, 2], p = [1, -2] - 0.1 v = [0.9, -2.2]
    # step 2: v = 0.9 [1, 2] + [1, 2] = [1.9, 3.8], p = [0.9 - 0.19, -2.2 - 0.38] = [0.71, -2.58]
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt, sched = make_optimizer(sgd_values(), [p], steps=2)
    assert isinstance(opt, torch.optim.SGD) and sched is None
    for expected in ([0.9, -2.2], [0.71, -2.58]):
        opt.zero_grad()
        (torch.tensor([1.0, 2.0]) * p).sum().backward()
        opt.step()
        torch.testing.assert_close(p.detach(), torch.tensor(expected))


def test_sgd_weight_decay_is_added_to_the_gradient():
    # g = c + 0.5 p = [1, 2] + [0.5, -1] = [1.5, 1]; one step: p = [1, -2] - 0.1 g = [0.85, -2.1]
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt, _ = make_optimizer(sgd_values(weight_decay=0.5), [p], steps=1)
    (torch.tensor([1.0, 2.0]) * p).sum().backward()
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.85, -2.1]))


@pytest.mark.parametrize("cls", [FFRule, BPFFRule])
def test_momentum_needs_sgd_and_stays_below_one(cls):
    with pytest.raises(ParameterError, match=r"momentum.*= 0.9 applies only to optimizer=sgd.*'adam'"):
        cls(momentum=0.9)
    with pytest.raises(ParameterError, match=r"momentum.*must be in \[0, 1\)"):
        cls(optimizer="sgd", momentum=1.0)
    with pytest.raises(ParameterError, match="valid values are adam, adamw, sgd"):
        cls(optimizer="rmsprop")
    assert cls(optimizer="sgd", momentum=0.9).values["momentum"] == 0.9


def test_other_rules_refuse_momentum_without_sgd_when_building_the_optimizer(tiny_data, ctx):
    # rules that share OPTIMIZER_PARAMS (bp here) fail at their first make_optimizer at the latest
    with pytest.raises(ParameterError, match="applies only to optimizer=sgd"):
        BPRule(momentum=0.5, epochs=1, width=8, layers=1).fit(tiny_data, None, None, ctx)


def test_defaults_leave_the_optimizer_adam():
    rule = FFRule()
    assert (rule.values["optimizer"], rule.values["momentum"], rule.values["layer_norm"]) == ("adam", 0.0, "l2")
    assert rule.values["peer_norm"] == 0.0 and rule.short_identity == "ff"


# -- RMS normalisation ---------------------------------------------------------------------


def test_rms_normalize_by_hand():
    # [3, 4]: RMS = sqrt((9 + 16) / 2) = sqrt(12.5) = 3.5355; [0, 2]: RMS = sqrt(2)
    out = rms_normalize(torch.tensor([[3.0, 4.0], [0.0, 2.0]]))
    expected = torch.tensor([[3 / math.sqrt(12.5), 4 / math.sqrt(12.5)], [0.0, 2 / math.sqrt(2)]])
    torch.testing.assert_close(out, expected)
    # RMS = L2 / sqrt(D): the rms-normalised row is sqrt(D) times the l2-normalised one
    x = torch.randn(4, 9, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(rms_normalize(x), 3.0 * normalize(x))


@pytest.mark.parametrize("layer_norm, fn", [("l2", normalize), ("rms", rms_normalize)])
def test_fold_equals_normalised_embedding(layer_norm, fn):
    """norm(embed(x, c)) = x0 / n + (value / n) e_c for every label c, for both normalisations."""
    g = torch.Generator().manual_seed(0)
    emb = LabelEmbedding((3, 4, 4), num_classes=3, value=2.5)  # a label pixel in every channel
    x = torch.randn(5, 48, generator=g)
    x0n, scale = emb.fold(x, layer_norm)
    for c in range(3):
        e_c = torch.zeros(48)
        e_c[[c, 16 + c, 32 + c]] = 1.0
        folded = x0n + scale[:, None] * e_c
        torch.testing.assert_close(folded, fn(emb(x, torch.full((5,), c))), rtol=1e-5, atol=1e-6)


def test_stacked_inputs_fold_equals_rows_with_rms():
    """The fast trainer's folded layer 1 and its frozen output (layer 2's input) equal the plain
    rms-normalise-then-matmul rows, for two stacked seeds."""
    g = torch.Generator().manual_seed(0)
    emb = LabelEmbedding((1, 4, 4), num_classes=3, value=2.0)
    x = torch.randn(6, 16, generator=g)
    y, y_neg = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([[1, 2, 0, 2, 0, 1], [2, 0, 1, 1, 2, 0]])
    w, b = torch.randn(2, 16, 5, generator=g), torch.randn(2, 5, generator=g)
    idx = torch.tensor([[4, 1, 0], [2, 5, 3]])
    folded = FoldedInput(*emb.fold(x, "rms"), y, y_neg, emb, rms_normalize)
    rows = RowInput(
        torch.stack([torch.cat([rms_normalize(emb(x, y)), rms_normalize(emb(x, y_neg[s]))]) for s in range(2)]),
        rms_normalize,
    )
    torch.testing.assert_close(folded.pre(w, b, idx), rows.pre(w, b, idx), rtol=1e-5, atol=1e-5)
    frozen = folded.frozen(w, b).x
    torch.testing.assert_close(frozen, rows.frozen(w, b).x, rtol=1e-5, atol=1e-5)
    # layer 2's input has RMS 1 per row (where the row is not all zero)
    rms = frozen.square().mean(-1).sqrt()
    torch.testing.assert_close(rms[rms > 0], torch.ones_like(rms[rms > 0]), rtol=1e-5, atol=1e-5)


def test_ffnet_inference_with_rms_equals_unfolded_forward():
    """label_goodness (folded layer 1) equals running every (image, label) through forward_all."""
    torch.manual_seed(0)
    emb = LabelEmbedding((1, 4, 4), num_classes=3, value=2.0)
    net = FFNet([16, 7, 5], emb, SumSquaresGoodness(), num_classes=3, layer_norm="rms")
    x = torch.randn(4, 1, 4, 4)
    g = net.label_goodness(x)  # [N, C, L]
    for c in range(3):
        hs = net.forward_all(emb(x.reshape(4, -1), torch.full((4,), c)))
        plain = torch.stack([h.square().sum(-1) for h in hs], dim=-1)
        torch.testing.assert_close(g[:, c], plain, rtol=1e-5, atol=1e-5)
    # and it is not the l2 network's answer (the layer inputs are sqrt(D) times larger)
    net.layer_norm = "l2"
    assert not torch.allclose(net.label_goodness(x), g)


def test_unknown_layer_norm_is_refused():
    with pytest.raises(ParameterError, match="valid values are l2, rms"):
        FFRule(layer_norm="batch")
    with pytest.raises(ValueError, match="unknown layer_norm 'batch': valid values are l2, rms"):
        LabelEmbedding((1, 4, 4), 3, 1.0).fold(torch.zeros(2, 16), "batch")


# -- peer normalisation ----------------------------------------------------------------------


def test_peer_norm_loss_by_hand():
    # positives' mean activity m = mean([[1, 0, 2], [3, 0, 0]]) = [2, 0, 1]
    # r = 0.9 * 0.5 + 0.1 m = [0.65, 0.45, 0.55]; mean r = 0.55; deviations [0.1, -0.1, 0]
    # loss = mean of squares = (0.01 + 0.01 + 0) / 3 = 0.0066667
    h = torch.tensor([[1.0, 0.0, 2.0], [3.0, 0.0, 0.0]], requires_grad=True)
    loss, running = peer_norm_loss(torch.full((3,), 0.5), h)
    assert loss.item() == pytest.approx(0.02 / 3)
    torch.testing.assert_close(running, torch.tensor([0.65, 0.45, 0.55]))
    assert not running.requires_grad
    # dL/dh_bj = (2 / D) (r_j - mean r) * 0.1 / B = (r_j - mean r) / 30 (the mean's term cancels)
    loss.backward()
    expected = torch.tensor([0.1, -0.1, 0.0]) / 30
    torch.testing.assert_close(h.grad, expected.expand(2, 3))


def test_peer_norm_loss_per_stacked_seed():
    """[S, B, D] activity and [S, D] running means: one loss per seed, seeds kept apart."""
    h = torch.tensor([[[1.0, 0.0, 2.0], [3.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    loss, running = peer_norm_loss(torch.full((2, 3), 0.5), h)
    assert loss.tolist() == pytest.approx([0.02 / 3, 0.0])  # seed 2: all units at 0.45, no spread
    torch.testing.assert_close(running[1], torch.full((3,), 0.45))


def test_peer_norm_changes_training_and_evens_out_unit_activity(tiny_data):
    """Same seed, same data: peer_norm > 0 trains another network, whose units' mean activity on
    the positives is more even (smaller spread across units) than without it."""
    kw = dict(epochs=2, width=32, layers=2, batch_size=100, schedule="simultaneous")

    def spread(model):
        reps = model.representations(tiny_data.train.x, tiny_data.train.y)
        return sum(float(r.mean(0).var()) for r in reps)

    plain = FFRule(**kw).fit(tiny_data, L2Goodness(), WrongLabelNegatives(), cpu_ctx(0))
    peer = FFRule(peer_norm=5.0, **kw).fit(tiny_data, L2Goodness(), WrongLabelNegatives(), cpu_ctx(0))
    assert not torch.allclose(plain.weights()[0], peer.weights()[0], atol=1e-3)
    assert spread(peer) < spread(plain)


def test_peer_norm_refused_without_negatives(tiny_data, ctx):
    rule = FFRule(peer_norm=0.03, epochs=1, width=8, layers=1)
    with pytest.raises(ValueError, match="peer_norm=0.03 .* not for 'dimcompress'.*set peer_norm=0"):
        rule.fit(tiny_data, DimCompressGoodness(), NoNegatives(), ctx)


def test_peer_norm_has_no_straightforward_baseline():
    assert FFRule().has_baseline(L2Goodness(), WrongLabelNegatives())
    assert not FFRule(peer_norm=0.03).has_baseline(L2Goodness(), WrongLabelNegatives())


# -- the study's configuration -------------------------------------------------------------

#: the study's training options (docs/goodness_study.md), at a size that trains in seconds
STUDY = dict(
    optimizer="sgd",
    lr=1e-3,
    momentum=0.9,
    weight_decay=3e-4,
    layer_norm="rms",
    peer_norm=0.03,
    schedule="simultaneous",
    batch_size=100,
)


@pytest.mark.parametrize(
    "extra", [{}, {"activation": "relu-st", "lr_schedule": "cooldown"}], ids=["study", "relu-st-cooldown"]
)
def test_stacked_seeds_equal_separate_seeds_with_the_study_options(tiny_data, extra):
    rule = FFRule(epochs=2, width=48, layers=2, **STUDY, **extra)
    negatives = WrongLabelNegatives(resample=True)
    stacked = rule.fit_seeds(tiny_data, SumSquaresGoodness(), negatives, [cpu_ctx(0), cpu_ctx(1)])
    alone = [rule.fit(tiny_data, SumSquaresGoodness(), negatives, cpu_ctx(s)) for s in (0, 1)]
    for s, a in zip(stacked, alone):
        for ws, wa in zip(s.weights(), a.weights()):
            torch.testing.assert_close(ws, wa, rtol=0, atol=1e-4)
    assert not torch.allclose(stacked[0].weights()[0], stacked[1].weights()[0], atol=1e-2)


def test_ff_with_the_study_options_learns(tiny_data):
    rule = FFRule(epochs=10, width=256, layers=2, **STUDY)
    model = rule.fit(tiny_data, SumSquaresGoodness(), WrongLabelNegatives(resample=True), cpu_ctx(0))
    assert model.layer_norm == "rms"
    acc = accuracy(model, tiny_data)
    assert acc > 0.4, f"{rule.short_identity}: test accuracy {acc:.3f}"


def test_bp_ff_with_sgd_and_rms_learns(tiny_data):
    rule = BPFFRule(
        optimizer="sgd", momentum=0.9, layer_norm="rms", lr=3e-4, epochs=10, width=128, layers=2, batch_size=100
    )
    model = rule.fit(tiny_data, SumSquaresGoodness(), WrongLabelNegatives(), cpu_ctx(0))
    acc = accuracy(model, tiny_data)
    assert acc > 0.3, f"{rule.short_identity}: test accuracy {acc:.3f}"


# -- straight-through ReLU and the linear cool-down (issue 17 item 2) ------------------------


def test_straight_through_relu_gradient_by_hand():
    # forward: max(x, 0) = [0, 0, 2]; loss = 3 y_1 + 4 y_2 + 5 y_3
    # relu's gradient: [0, 0, 5] (off units, x = 0 included, get none);
    # straight-through: [3, 4, 5] (the gradient passes unchanged everywhere)
    c = torch.tensor([3.0, 4.0, 5.0])
    x = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    y = relu_st(x)
    assert y.tolist() == [0.0, 0.0, 2.0]
    (c * y).sum().backward()
    assert x.grad.tolist() == [3.0, 4.0, 5.0]
    x.grad = None
    (c * torch.relu(x)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 5.0]


def test_ffnet_layer_forward_with_relu_st():
    """Same activity as relu (inference is unchanged); the gradient reaches the weights of off units."""
    torch.manual_seed(0)
    nets = [FFNet([4, 3], None, SumSquaresGoodness(), 2, activation=a) for a in ("relu", "relu-st")]
    nets[1].load_state_dict(nets[0].state_dict())
    x = torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0]])
    h = [net.layer_forward(0, x) for net in nets]
    assert torch.equal(h[0], h[1]) and bool((h[0] == 0).any())
    for hh in h:
        hh.sum().backward()  # d/dh = 1 everywhere: relu-st passes it to every unit
    off = (h[0] == 0).all(0)  # units off on both samples: relu gives their weights no gradient
    assert off.any()
    assert (nets[0].layers[0].weight.grad[off] == 0).all()
    assert (nets[1].layers[0].weight.grad[off] != 0).any()
    with pytest.raises(ValueError, match="unknown activation 'tanh': valid values are relu, relu-st"):
        FFNet([4, 3], None, SumSquaresGoodness(), 2, activation="tanh")


def test_cooldown_factor_is_the_studys_per_epoch_formula():
    # src/utils.py get_linear_cooldown_lr: lr if e <= E // 2 else lr * 2 (1 + E - e) / E
    assert [cooldown_factor(e, 20) for e in (0, 10, 11, 12, 15, 19)] == pytest.approx([1, 1, 1, 0.9, 0.6, 0.2])
    # odd E: the first cooled epoch is above 1, as in the study's code
    assert [cooldown_factor(e, 5) for e in range(5)] == pytest.approx([1, 1, 1, 1.2, 0.8])


def test_cooldown_lr_at_steps_0_half_three_quarters_and_end():
    """20 epochs of 2 steps (N = 40), lr 0.1: the lr in force at step t (after t scheduler steps)."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt, sched = make_optimizer(sgd_values(epochs=20, lr_schedule="cooldown", momentum=0.0), [p], steps=40)
    lrs = []
    for _ in range(41):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # step 0: epoch 0; N/2 = 20: epoch 10 (still constant); 3N/4 = 30: epoch 15, 2 * 6 / 20 = 0.6;
    # the last step (39, epoch 19): 2 * 2 / 20 = 0.2; after N steps (never used): epoch 20, 0.1
    assert [lrs[t] for t in (0, 20, 22, 24, 30, 39, 40)] == pytest.approx([0.1, 0.1, 0.1, 0.09, 0.06, 0.02, 0.01])
    assert lrs[21] == lrs[20]  # constant within an epoch


def test_new_ff_options_keep_the_default_identity():
    rule = FFRule()
    assert rule.values["activation"] == "relu" and rule.values["label"] == "embed"
    assert rule.short_identity == "ff" and "activation" not in rule.identity and "label" not in rule.identity
    assert "activation=relu-st" in FFRule(activation="relu-st").identity
    with pytest.raises(ParameterError, match="valid values are constant, cosine, cooldown"):
        FFRule(lr_schedule="linear")


def test_relu_st_changes_training_only_through_gradients_at_off_units(tiny_data):
    """sumsq's gradient 2h is 0 at an off unit, so relu-st trains bit for bit as relu; peer
    normalisation's gradient reaches off units (it is through the mean activity), so relu-st differs."""
    kw = dict(epochs=2, width=32, layers=2, batch_size=100, schedule="simultaneous")

    def weights(**extra):
        return FFRule(**kw, **extra).fit(tiny_data, SumSquaresGoodness(), WrongLabelNegatives(), cpu_ctx(0)).weights()

    for a, b in zip(weights(), weights(activation="relu-st")):
        assert torch.equal(a, b)
    for a, b in zip(weights(peer_norm=0.03), weights(peer_norm=0.03, activation="relu-st")):
        assert not torch.allclose(a, b, atol=1e-4)


def test_ff_with_relu_st_and_cooldown_learns(tiny_data):
    rule = FFRule(epochs=10, width=256, layers=2, activation="relu-st", lr_schedule="cooldown", **STUDY)
    model = rule.fit(tiny_data, SumSquaresGoodness(), WrongLabelNegatives(resample=True), cpu_ctx(0))
    assert model.activation == "relu-st"
    acc = accuracy(model, tiny_data)
    assert acc > 0.4, f"{rule.short_identity}: test accuracy {acc:.3f}"


def test_greedy_resampled_layers_keep_rms_inputs(tiny_data, monkeypatch):
    """Greedy schedule, fresh negatives every epoch, 3 layers, layer_norm=rms: every row a layer
    trains on has RMS 1 (the positives' half of layers 3+ used to be l2-normalised)."""
    seen = []
    train_step = StackedFF._train_step

    def recording(self, l, inp, idx):
        if isinstance(inp, RowInput):
            rows = inp.x[0, torch.cat([idx[0], idx[0] + self.n])]
            rms = rows.square().mean(-1).sqrt()
            seen.append((l, rms[rms > 0]))
        return train_step(self, l, inp, idx)

    monkeypatch.setattr(StackedFF, "_train_step", recording)
    rule = FFRule(epochs=2, width=16, layers=3, batch_size=250, layer_norm="rms")
    rule.fit(tiny_data, SumSquaresGoodness(), WrongLabelNegatives(resample=True), cpu_ctx(0))
    assert {l for l, _ in seen} == {1, 2}
    for _, rms in seen:
        torch.testing.assert_close(rms, torch.ones_like(rms), rtol=0, atol=1e-2)  # l2 would give 1/4
