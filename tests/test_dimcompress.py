"""Dimensionality compression goodness (docs/science.md): effective dimensionality on hand-computable
data, the within/across terms and the loss sign, the noisy copies, the energy readout, and
learning with the ff and bp-ff rules on a small real subset."""

import io
import pickle

import pytest
import torch

from ffbench.contracts import TrainContext
from ffbench.errors import ParameterError
from ffbench_plugins.goodness import dimcompress
from ffbench_plugins.goodness.dimcompress import (
    DimCompressGoodness,
    EnergyReadout,
    effective_dim,
    participation_ratio,
    producing_weight,
    random_orthogonal,
)
from ffbench_plugins.negatives.hard import NoNegatives
from ffbench_plugins.rules.bp_ff import BPFFRule
from ffbench_plugins.rules.ff import FFRule
from ffbench_plugins.rules.ffnet import build_ffnet

# -- effective dimensionality -----------------------------------------------------------------


def test_participation_ratio_of_hand_computed_matrices():
    assert participation_ratio(torch.diag(torch.tensor([3.0, 1.0]))).item() == pytest.approx(16 / 10)
    assert participation_ratio(torch.eye(4) * 7.0).item() == pytest.approx(4.0)
    assert participation_ratio(torch.zeros(3, 3)).item() == 0.0  # no activity: no dimensions


@pytest.mark.parametrize("d", [6, 3])  # 6 rows <= 6 dims: row Gram; 6 rows > 3 dims: covariance
def test_effective_dim_of_isotropic_and_rank_one_data(d):
    iso = torch.eye(d)[:3].repeat(2, 1) * 2.5  # 6 rows spread evenly over 3 axes
    assert effective_dim(iso).item() == pytest.approx(3.0)
    rank1 = torch.outer(torch.tensor([1.0, -2.0, 0.5, 3.0, 1.0, 0.1]), torch.rand(d) + 0.1)
    assert effective_dim(rank1).item() == pytest.approx(1.0, rel=1e-5)
    two = torch.zeros(6, d)
    two[:3, 0], two[3:, 1] = 3.0**0.5, 1.0  # second moment diag(9, 3): ED 12^2 / 90 = 16 / 10
    assert effective_dim(two).item() == pytest.approx(16 / 10, rel=1e-5)


def test_gram_and_covariance_give_the_same_effective_dim():
    g = torch.Generator().manual_seed(0)
    for rows, cols in [(5, 12), (12, 5)]:
        x = torch.randn(rows, cols, generator=g, dtype=torch.float64)
        by_cov, by_gram = participation_ratio(x.T @ x), participation_ratio(x @ x.T)
        assert by_cov.item() == pytest.approx(by_gram.item(), rel=1e-12)
        assert effective_dim(x).item() == pytest.approx(by_cov.item(), rel=1e-12)
    batch = torch.randn(3, 4, 9, generator=g, dtype=torch.float64)
    assert torch.allclose(effective_dim(batch), torch.stack([effective_dim(b) for b in batch]))


def test_random_orthogonal_projection_is_fixed_and_orthonormal():
    q = random_orthogonal(10, 4, seed=3)
    assert torch.allclose(q.T @ q, torch.eye(4), atol=1e-5)
    assert torch.equal(q, random_orthogonal(10, 4, seed=3))
    full = random_orthogonal(10, 10, seed=3)  # a rotation leaves ED unchanged: proj_dim >= width is a no-op
    x = torch.rand(6, 10, dtype=torch.float64)
    assert effective_dim(x @ full.double()).item() == pytest.approx(effective_dim(x).item(), rel=1e-5)


# -- the layer loss -----------------------------------------------------------------------------


def hand_batch() -> torch.Tensor:
    """2 images x 2 copies, sample-major. Image 0: both copies e1 (ED 1); image 1: e2 and e3
    (ED 2). Means: e1 and (e2 + e3)/2, second moment [[1,0,0],[0,.25,.25],[0,.25,.25]]: ED 1.5^2/1.25."""
    return torch.tensor([[1.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])


def test_within_and_across_terms_of_a_hand_made_batch():
    within, across = DimCompressGoodness(copies=2).terms(hand_batch())
    assert within.item() == pytest.approx(1.5)
    assert across.item() == pytest.approx(1.8)
    assert DimCompressGoodness(copies=2).layer_loss(hand_batch(), None).item() == pytest.approx(0.5 * 1.5 - 0.5 * 1.8)
    assert DimCompressGoodness(copies=2, a=1.0, b=0.0).layer_loss(hand_batch(), None).item() == pytest.approx(1.5)
    # copy-major order would pair other rows: the loss reads rows i*K .. i*K+K-1 as image i
    assert DimCompressGoodness(copies=2).terms(hand_batch()[[0, 2, 1, 3]])[0].item() == pytest.approx(2.0)


def test_loss_is_low_for_compressed_copies_of_spread_images_and_high_otherwise():
    goodness = DimCompressGoodness(copies=4)
    eye = torch.eye(4)
    compressed = eye.repeat_interleave(4, dim=0)  # 4 images on 4 axes, each image's copies identical
    scattered = eye.repeat(4, 1)  # every image's copies over all 4 axes, all images alike
    assert goodness.terms(compressed)[0].item() == pytest.approx(1.0)
    assert goodness.terms(compressed)[1].item() == pytest.approx(4.0)
    assert goodness.layer_loss(compressed, None).item() == pytest.approx(0.5 * 1 - 0.5 * 4)
    assert goodness.layer_loss(scattered, None).item() == pytest.approx(0.5 * 4 - 0.5 * 1)
    h = (scattered + 0.1 * torch.rand(16, 4)).requires_grad_(True)
    goodness.layer_loss(h, None).backward()
    assert torch.isfinite(h.grad).all() and h.grad.abs().sum() > 0


def test_projection_is_drawn_once_per_width_and_changes_the_terms():
    goodness = DimCompressGoodness(copies=2, proj_dim=2)
    h = torch.rand(8, 6)
    first = goodness.terms(h)
    q = goodness._projections[(6, 2, "cpu")]
    assert torch.equal(torch.stack(goodness.terms(h)), torch.stack(first))
    assert goodness._projections[(6, 2, "cpu")] is q
    expected = DimCompressGoodness(copies=2).terms(h @ q)
    assert torch.allclose(torch.stack(first), torch.stack(expected))
    assert torch.equal(
        torch.stack(DimCompressGoodness(copies=2, proj_dim=6).terms(h)),
        torch.stack(DimCompressGoodness(copies=2).terms(h)),
    )


def test_bad_activity_shapes_and_negatives_are_refused():
    goodness = DimCompressGoodness(copies=3)
    with pytest.raises(ValueError, match=r"K=3 copies.*\[7, 5\]"):
        goodness.layer_loss(torch.rand(7, 5), None)
    with pytest.raises(ValueError, match="without negatives"):
        goodness.layer_loss(torch.rand(6, 5), torch.rand(6, 5))


# -- noisy copies -------------------------------------------------------------------------------


def test_augment_is_sample_major_with_dropout_masks():
    x = torch.arange(1.0, 13.0).reshape(3, 4)
    clean = DimCompressGoodness(copies=5, p=0.0).augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(clean, x.repeat_interleave(5, dim=0))  # rows i*5 .. i*5+4: image i
    big = torch.ones(50, 200)
    noisy = DimCompressGoodness(copies=4, p=0.25).augment(big, torch.Generator().manual_seed(0))
    assert noisy.shape == (200, 200)
    assert torch.allclose(noisy.unique(), torch.tensor([0.0, 4 / 3]))  # kept values rescaled by 1/(1-p)
    assert (noisy == 0).float().mean().item() == pytest.approx(0.25, abs=0.01)
    assert not torch.equal(noisy[0], noisy[1])  # copies of one image get their own masks


def test_augment_is_seeded_by_its_generator():
    goodness, x = DimCompressGoodness(copies=3), torch.rand(4, 30)
    a = goodness.augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, goodness.augment(x, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, goodness.augment(x, torch.Generator().manual_seed(2)))
    assert torch.equal(goodness.augment(x), goodness.augment(x))  # test time: reproducible predictions


def test_gaussian_noise_has_the_requested_std():
    x = torch.zeros(100, 100)
    noisy = DimCompressGoodness(copies=2, noise="gaussian", noise_std=0.3).augment(x, torch.Generator().manual_seed(0))
    assert noisy.shape == (200, 100)
    assert noisy.mean().item() == pytest.approx(0.0, abs=0.01)
    assert noisy.std().item() == pytest.approx(0.3, rel=0.02)


# -- energy readout -----------------------------------------------------------------------------


def test_energy_readout_sums_squared_logits_over_copies():
    readout = EnergyReadout([2, 1], num_classes=3, copies=2, layers="all")
    with torch.no_grad():
        readout.linear.weight.copy_(torch.eye(3))
        readout.linear.bias.zero_()
    hs = [torch.tensor([[1.0, 0], [0, 1.5], [2, 0], [0, 0]]), torch.tensor([[0.0], [0], [0], [3]])]
    s = readout.energy(readout.features(hs), 2)  # z = features; s_c = sum over copies z_c^2 / (K-1)
    assert torch.allclose(s, torch.tensor([[1.0, 2.25, 0], [4, 0, 9]]))
    assert readout.predict(hs, 2).tolist() == [1, 2]
    last = EnergyReadout([2, 1], num_classes=3, copies=2, layers="last")
    assert last.linear.in_features == 1 and torch.equal(last.features(hs), hs[1])


def test_energy_readout_calibrates_one_scale_per_layer():
    readout = EnergyReadout([2, 1], num_classes=3, copies=2, layers="all")
    hs = [torch.tensor([[2.0, 0], [0, 2], [2, 0], [0, 2]]), torch.zeros(4, 1)]
    readout.calibrate(hs)  # RMS: sqrt(16 / 8) for layer 1; a silent layer keeps scale 1
    assert torch.allclose(readout.scales, torch.tensor([2**0.5, 1.0]))
    assert torch.allclose(readout.features(hs)[0], torch.tensor([2**0.5, 0, 0]))


# -- learning -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dc_data():
    from ffbench_plugins.datasets.embedded import FashionMNISTMini

    return FashionMNISTMini(train_size=1000, test_size=300).load()


def context(seed: int = 0) -> TrainContext:
    return TrainContext(device=torch.device("cpu"), seed=seed, train_classes=list(range(10)), num_classes=10)


DC_RULE = dict(
    width=128, layers=2, epochs=3, batch_size=100, optimizer="adamw", lr=1e-3, weight_decay=0.01, lr_schedule="cosine"
)
DC = dict(copies=8, readout_epochs=5, readout_batch_size=50)


def test_pixel_readout_baseline_learns(dc_data):
    goodness = DimCompressGoodness(**DC)
    readout = goodness.fit_pixel_readout(dc_data, context())
    flat = dc_data.test.flat()
    acc = (readout.predict([goodness.augment(flat)], len(flat)) == dc_data.test.y).float().mean().item()
    assert acc > 0.6, f"energy readout on noisy pixels: test accuracy {acc:.3f}"


@pytest.mark.parametrize("rule", [FFRule(**DC_RULE), BPFFRule(**DC_RULE)], ids=["ff", "bp-ff"])
def test_dimcompress_learns_with_ff_and_bp_ff(dc_data, rule):
    goodness = DimCompressGoodness(**DC)
    model = rule.fit(dc_data, goodness, NoNegatives(), context())
    acc = (model.predict(dc_data.test.x) == dc_data.test.y).float().mean().item()
    assert acc > 0.5, f"{rule.name} + dimcompress: test accuracy {acc:.3f} (chance 0.1)"

    # against the same network untrained: the images spread over many more dimensions (across)
    # and the loss fell; within stays near 1 (uncentred: each image's mean copy dominates)
    torch.manual_seed(0)
    untrained = build_ffnet(rule.values, dc_data, goodness, torch.device("cpu"))
    copies = goodness.augment(dc_data.test.flat()[:100])
    with torch.no_grad():
        trained_terms = goodness.terms(model.forward_all(copies)[0])
        untrained_terms = goodness.terms(untrained.forward_all(copies)[0])
    assert trained_terms[1] > 3 * untrained_terms[1]
    assert trained_terms[0] - trained_terms[1] < untrained_terms[0] - untrained_terms[1]

    reps = model.representations(dc_data.test.x[:7], dc_data.test.y[:7])  # clean images, no copies
    assert [r.shape for r in reps] == [(7, 128), (7, 128)]
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    assert torch.equal(restored.predict(dc_data.test.x[:50]), model.predict(dc_data.test.x[:50]))


# -- SFF reference settings: per-layer projections, readout schedule and weight decay ----------


def test_proj_dims_parses_to_one_size_per_layer_with_a_canonical_identity():
    goodness = DimCompressGoodness.from_spec({"proj_dims": " 30 / 20/10"})
    assert goodness.layer_dims == (30, 20, 10) and goodness.values["proj_dims"] == "30/20/10"
    assert "proj_dims=30/20/10" in goodness.identity
    assert DimCompressGoodness().layer_dims is None and "proj_dims=auto" in DimCompressGoodness().identity
    assert DimCompressGoodness(proj_dims="auto").layer_dims is None


@pytest.mark.parametrize("bad", ["30,20,10", "30/x/10", "30//10", "-5/3", "30/20.5"])
def test_bad_proj_dims_are_refused_naming_the_value_and_the_form(bad):
    with pytest.raises(ParameterError, match=rf"{bad!r}.*dimcompress\.proj_dims.*'/'.*30/20/10"):
        DimCompressGoodness(proj_dims=bad)


def test_proj_dim_and_proj_dims_together_are_refused():
    with pytest.raises(ParameterError, match="proj_dim .*or proj_dims.*not both"):
        DimCompressGoodness(proj_dim=8, proj_dims="30/20/10")


def test_each_layer_is_projected_to_its_own_size():
    goodness = DimCompressGoodness(copies=2, proj_dims="30/20/0/10")
    h = torch.rand(8, 40)
    assert [goodness.project(h, layer).shape for layer in range(4)] == [(8, 30), (8, 20), (8, 40), (8, 10)]
    assert torch.allclose(goodness.project(h, 1), h @ random_orthogonal(40, 20, dimcompress.PROJECTION_SEED + 40))
    small = torch.rand(8, 15)
    assert torch.equal(goodness.project(small, 0), small)  # 30 >= width 15: no projection
    expected = DimCompressGoodness(copies=2).terms(h @ random_orthogonal(40, 10, dimcompress.PROJECTION_SEED + 40))
    assert torch.allclose(torch.stack(goodness.terms(h, layer=3)), torch.stack(expected))
    with pytest.raises(ValueError, match="no size for layer index 4"):
        goodness.project(h, 4)
    with pytest.raises(ValueError, match="layer="):  # no autograd graph and no layer given
        goodness.terms(h)


def test_the_layer_is_found_from_the_activity_graph():
    goodness = DimCompressGoodness(copies=2, proj_dims="30/20/10")
    data = torch.rand(6, 50)
    for _ in range(2):  # a second network starts again at layer 0
        net = torch.nn.ModuleList(torch.nn.Linear(i, o) for i, o in [(50, 32), (32, 32), (32, 32)])
        goodness.augment(data[:2], torch.Generator().manual_seed(0))  # what the rules call first
        # end to end (bp-ff): the graph of layer 3 contains layers 1 and 2 as well
        hs, x = [], data
        for layer in net:
            x = torch.relu(layer(x))
            hs.append(x)
        assert [producing_weight(h) is layer.weight for h, layer in zip(hs, net)] == [True] * 3
        assert [goodness.layer_index(h) for h in hs] == [0, 1, 2]
        assert [goodness.project(h).shape[-1] for h in hs] == [30, 20, 10]
        assert goodness.layer_index(hs[1]) == 1  # seen before: same index
    # layer by layer (greedy ff): earlier layers frozen, run without gradients
    net = torch.nn.ModuleList(torch.nn.Linear(i, o) for i, o in [(50, 32), (32, 32), (32, 32)])
    for l in range(3):
        with torch.no_grad():
            x = data
            for k in range(l):
                x = torch.relu(net[k](x))
        assert goodness.layer_index(torch.relu(net[l](x))) == l
    assert producing_weight(torch.rand(3, 4)) is None


class RecordingDimCompress(DimCompressGoodness):
    def project(self, h, layer=None):
        out = super().project(h, layer)
        self.sizes.append(out.shape[-1])
        return out


TINY_RULE = dict(width=32, layers=3, epochs=1, batch_size=100)
TINY_DC = dict(copies=4, readout_epochs=1, proj_dims="30/20/10")


@pytest.fixture(scope="module")
def tiny_dc_data():
    from ffbench_plugins.datasets.embedded import FashionMNISTMini

    return FashionMNISTMini(train_size=200, test_size=100).load()


@pytest.mark.parametrize(
    "rule, order",
    [
        (FFRule(**TINY_RULE), [30, 30, 20, 20, 10, 10]),  # greedy: 2 batches per layer, layer by layer
        (FFRule(**TINY_RULE, schedule="simultaneous"), [30, 20, 10] * 2),
        (BPFFRule(**TINY_RULE), [30, 20, 10] * 2),
    ],
    ids=["ff-greedy", "ff-simultaneous", "bp-ff"],
)
def test_rules_train_each_layer_with_its_projection(tiny_dc_data, rule, order):
    goodness = RecordingDimCompress(**TINY_DC)
    goodness.sizes = []
    for seed in range(2):  # two networks in a row, as for two seeds
        model = rule.fit(tiny_dc_data, goodness, NoNegatives(), context(seed))
    assert goodness.sizes == order * 2
    buffer = io.BytesIO()  # the goodness travels with the model: it must still pickle
    torch.save(model, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    assert restored.goodness.layer_dims == (30, 20, 10)
    assert torch.equal(restored.predict(tiny_dc_data.test.x[:20]), model.predict(tiny_dc_data.test.x[:20]))


def test_width_equal_to_the_input_size_still_numbers_the_layers(tiny_dc_data):
    goodness = RecordingDimCompress(**TINY_DC)
    goodness.sizes = []
    rule = FFRule(**{**TINY_RULE, "width": 784, "schedule": "simultaneous"})
    for seed in range(2):
        rule.fit(tiny_dc_data, goodness, NoNegatives(), context(seed))
    assert goodness.sizes == [30, 20, 10] * 4


def test_proj_dims_must_match_the_number_of_layers(tiny_dc_data):
    with pytest.raises(ValueError, match="gives 3 layer.*has 2 hidden layers"):
        FFRule(**{**TINY_RULE, "layers": 2}).fit(tiny_dc_data, DimCompressGoodness(**TINY_DC), NoNegatives(), context())
    with pytest.raises(ValueError, match="gives 3 layer.*more hidden layers"):
        FFRule(**{**TINY_RULE, "layers": 4}).fit(tiny_dc_data, DimCompressGoodness(**TINY_DC), NoNegatives(), context())


def test_goodness_pickled_before_the_new_parameters_loads_with_their_defaults():
    goodness = DimCompressGoodness(copies=3)
    state = pickle.loads(pickle.dumps(goodness)).__dict__
    old = {k: v for k, v in state.items() if k not in ("layer_dims", "_input_width")}
    old["values"] = {
        k: v for k, v in old["values"].items() if k not in ("proj_dims", "readout_schedule", "readout_weight_decay")
    }
    restored = DimCompressGoodness.__new__(DimCompressGoodness)
    restored.__setstate__(old)
    assert restored == goodness and restored.layer_dims is None


def test_readout_schedule_and_weight_decay_reach_the_optimizer(tiny_dc_data, monkeypatch):
    seen = []

    class RecordingAdamW(torch.optim.AdamW):
        def step(self, closure=None):
            seen.append((self.param_groups[0]["lr"], self.param_groups[0]["weight_decay"]))
            return super().step(closure)

    monkeypatch.setattr(dimcompress.torch.optim, "AdamW", RecordingAdamW)
    settings = dict(copies=2, readout_epochs=2, readout_batch_size=50, readout_lr=2.5e-4)
    DimCompressGoodness(**settings).fit_pixel_readout(tiny_dc_data, context())
    assert seen == [(2.5e-4, 0.01)] * 8  # defaults: constant lr, weight decay 0.01 (200 images, 4 batches x 2)
    seen.clear()
    DimCompressGoodness(**settings, readout_schedule="cosine", readout_weight_decay=0.05).fit_pixel_readout(
        tiny_dc_data, context()
    )
    lrs = [lr for lr, _ in seen]
    assert len(lrs) == 8 and lrs[0] == pytest.approx(2.5e-4) and {wd for _, wd in seen} == {0.05}
    assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 0.05 * 2.5e-4  # cosine decay towards 0
