"""The shared building blocks of the built-in rules, on hand-computable inputs: the MLP rules'
parameter block and construction (plugins/rules/mlp.py), the optimiser and batching
(plugins/rules/training.py), and the public FF pieces (plugins/rules/ff_pieces.py), plus the
contract's neutral-label representations."""

from __future__ import annotations

import pytest
import torch

from ffbench.contracts import ModelCapabilityError, NegativeGenerator, TrainContext, TrainedModel
from ffbench.errors import ParameterError, TrainingDivergedError
from ffbench.registry import get_registry
from ffbench.testing import tiny_bundle
from ffbench_plugins.goodness.norms import SumSquaresGoodness
from ffbench_plugins.rules.bp import BPRule
from ffbench_plugins.rules.conv_ff import ConvFFRule
from ffbench_plugins.rules.ff_pieces import (
    LabelEmbedding,
    combine_label_goodness,
    negatives_due,
    per_label_goodness,
    sample_negatives,
)
from ffbench_plugins.rules.ffnet import FFNet, build_ffnet
from ffbench_plugins.rules.mlp import MLPRule, ReLUStack, hidden_dims, mlp_params, seeded
from ffbench_plugins.rules.pepita import PepitaRule
from ffbench_plugins.rules.training import minibatch_epochs

MLP_RULES = ["bp", "dfa", "random", "cafo", "mono-forward", "pepita"]


def ctx(seed: int = 0) -> TrainContext:
    return TrainContext(torch.device("cpu"), seed, list(range(10)), 10)


# -- the MLP rules' parameter block and construction -----------------------------------------


@pytest.mark.parametrize("name", MLP_RULES)
def test_every_mlp_rule_shares_the_block(name):
    cls = get_registry().get("rule", name).cls
    assert issubclass(cls, MLPRule) and not cls.uses_goodness and not cls.uses_negatives
    assert [p.name for p in cls.params[:5]] == ["layers", "width", "lr", "batch_size", "epochs"]
    assert cls.param_map()["layers"].default == 3 and cls.param_map()["width"].default is None


def test_the_block_keeps_each_rules_defaults_and_words():
    block = {p.name: p for p in mlp_params(lr=0.5, batch_size=7, epochs=9, epochs_help="epochs per block")}
    assert (block["lr"].default, block["batch_size"].default, block["epochs"].default) == (0.5, 7, 9)
    assert block["epochs"].help == "epochs per block" and "optimizer" in block and "momentum" in block
    assert "optimizer" not in {p.name for p in mlp_params(lr=0.5, batch_size=7, epochs=9, optimizer=False)}
    assert "optimizer" not in PepitaRule.param_map()  # SGD with its paper's momentum, not the shared block


def test_hidden_dims_auto_width_and_seeded_construction():
    data = tiny_bundle()
    assert hidden_dims({"layers": 2, "width": None}, data) == [784, 1000, 1000]  # 28x28: auto width 1000
    assert hidden_dims({"layers": 3, "width": 16}, data) == [784, 16, 16, 16]
    torch.manual_seed(1)  # torch's global generator: not read by seeded()
    a = seeded(ReLUStackForTest([4, 3, 2]), ctx(5))
    torch.manual_seed(2)
    b = seeded(ReLUStackForTest([4, 3, 2]), ctx(5))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.layers[0].weight.abs().max() <= 4**-0.5 and a.layers[1].weight.abs().max() <= 3**-0.5


class ReLUStackForTest(ReLUStack):
    def predict(self, x):
        return self.hidden(x)[-1].argmax(dim=1)


def test_the_optimizer_check_refuses_momentum_without_sgd_but_not_pepitas_own():
    with pytest.raises(ParameterError, match="momentum"):
        BPRule(momentum=0.9)
    assert BPRule(optimizer="sgd", momentum=0.9).values["momentum"] == 0.9
    assert PepitaRule(momentum=0.5).values["momentum"] == 0.5  # pepita has no `optimizer` parameter


def test_minibatch_epochs_names_the_part_that_diverged():
    p = torch.nn.Parameter(torch.ones(()))
    values = {
        "epochs": 2,
        "batch_size": 4,
        "lr": 0.1,
        "optimizer": "adam",
        "weight_decay": 0.0,
        "lr_schedule": "constant",
    }
    seen = []
    c = ctx()
    c.progress = lambda done, total, what: seen.append((done, total, what))
    losses = minibatch_epochs(values, [p], 8, c, lambda idx: (p * len(idx), p.detach()), "block 2/3", part=(1, 3))
    assert len(losses) == 2 and seen == [(3, 6, "block 2/3"), (4, 6, "block 2/3")]  # progress over all 3 blocks
    nan = lambda idx: (p * float("nan"), p * float("nan"))  # noqa: E731
    with pytest.raises(TrainingDivergedError, match="at block 2, epoch 1"):
        minibatch_epochs(values, [p], 8, ctx(), nan, "block 2/3", part=(1, 3), where="block 2, ")


# -- the FF pieces ---------------------------------------------------------------------------


def test_when_negatives_are_drawn():
    greedy = [[negatives_due("greedy", False, l, e, 3) for e in range(2)] for l in range(3)]
    assert greedy == [[1, None], [None, None], [None, None]]  # once, before training, reading layer 1
    resampled = [[negatives_due("greedy", True, l, e, 3) for e in range(2)] for l in range(3)]
    assert resampled == [[1, 1], [2, 2], [3, 3]]  # every epoch, reading the layers trained so far
    assert [negatives_due("simultaneous", False, 0, e, 3) for e in range(3)] == [3, None, None]
    assert [negatives_due("simultaneous", True, 0, e, 3) for e in range(3)] == [3, 3, 3]


class Recorder(NegativeGenerator):
    """Returns the images and label 0, and records what it was given."""

    name = "recorder"
    needs_scores = True
    needs_model = True

    def generate(self, x, y, *, allowed, generator, scores=None, model=None):
        self.seen = {"scores": scores, "model": model, "allowed": allowed}
        return x, torch.zeros_like(y)


def test_sample_negatives_passes_scores_and_model_to_a_generator_that_needs_them():
    x, y = torch.arange(6.0).reshape(3, 2), torch.tensor([1, 2, 3])
    gen = Recorder()
    model = object()
    x_neg, y_neg = sample_negatives(gen, x, y, ctx(), lambda xb: xb.sum(1, keepdim=True) * torch.ones(1, 4), model)
    assert torch.equal(x_neg, x) and y_neg.tolist() == [0, 0, 0]
    assert gen.seen["scores"].tolist() == [[1.0] * 4, [5.0] * 4, [9.0] * 4] and gen.seen["model"] is model
    assert gen.seen["allowed"].tolist() == list(range(10))
    with pytest.raises(ValueError, match="recorder"):
        sample_negatives(gen, x, y, ctx())  # needs scores and the model, given neither
    wrong = get_registry().build("negatives", "wrong-label")  # needs neither: never given them
    x_neg, y_neg = sample_negatives(wrong, x, y, ctx())
    assert torch.equal(x_neg, x) and (y_neg != y).all()


def test_the_embedding_for_a_dataset_and_its_neutral_label():
    data = tiny_bundle()
    emb = LabelEmbedding.for_data(data)
    assert emb.value == float(data.train.x.max()) and emb.num_classes == 10 and emb.offsets == [0]
    x = torch.zeros(2, 784)
    assert emb(x, torch.tensor([3, 0]))[:, :10].nonzero().tolist() == [[0, 3], [1, 0]]
    assert torch.allclose(emb.neutral(x)[:, :10], torch.full((2, 10), emb.value / 10))
    assert emb.neutral(x + 1, "zero")[:, :10].abs().sum() == 0 and (emb.neutral(x + 1, "zero")[:, 10:] == 1).all()


def test_combining_layers_by_hand():
    g = torch.tensor([[[0.0, 2.0], [0.0, 0.0]]])  # 1 sample, 2 labels, 2 layers
    assert combine_label_goodness(g, "raw").tolist() == [[2.0, 0.0]]
    assert combine_label_goodness(g, "raw", skip_first=True).tolist() == [[2.0, 0.0]]
    soft = combine_label_goodness(g, "softmax")  # layer 1: 1/2, 1/2; layer 2: e^2 / (e^2 + 1), 1 / (e^2 + 1)
    e2 = torch.tensor(2.0).exp()
    assert torch.allclose(soft, torch.stack([0.5 + e2 / (e2 + 1), 0.5 + 1 / (e2 + 1)]).unsqueeze(0))


def test_per_label_goodness_is_what_the_ff_network_infers_with():
    """The public per-label pass (every label embedded, every layer run) gives the goodness FFNet
    computes with layer 1 folded into one matmul over the images."""
    data = tiny_bundle()
    values = {"layers": 2, "width": 16, "inference": "softmax", "skip_first": False}
    net = build_ffnet(values, data, SumSquaresGoodness(), torch.device("cpu"), ctx().generator)
    x = data.test.flat()[:12]
    ours = per_label_goodness(x, net.embedding, net.forward_all, net.goodness.score)
    assert ours.shape == (12, 10, 2)
    assert torch.allclose(ours, net.label_goodness(x), rtol=1e-4, atol=1e-5)


# -- neutral-label representations (the contract) ---------------------------------------------


def test_neutral_representations_are_declared_by_the_models_that_show_a_label():
    assert not ReLUStackForTest([4, 3]).has_neutral_representations
    with pytest.raises(ModelCapabilityError, match="neutral"):
        ReLUStackForTest([4, 3]).neutral_representations(torch.zeros(1, 4))
    assert FFNet.neutral_representations is not TrainedModel.neutral_representations
    data = tiny_bundle()
    conv = ConvFFRule(layers=1, channels=4, kernel=3, epochs=1).build(data, SumSquaresGoodness(), ctx())
    assert conv.has_neutral_representations and conv.reads_label
    net = build_ffnet(
        {"layers": 1, "width": 8, "inference": "softmax", "skip_first": False},
        data,
        SumSquaresGoodness(),
        torch.device("cpu"),
    )
    x = data.test.x[:4]
    assert torch.equal(net.neutral_representations(x)[0], net.forward_all(net.embedding.neutral(x.flatten(1)))[0])
