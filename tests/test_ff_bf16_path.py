"""The ff trainer's bfloat16 path: stored layer inputs cast once (``AutocastCopy``), layer 1's rows
concatenated, its label rows sliced from the weights, the activation run before widening to
float32. Each only saves time: a bfloat16 training gives the same numbers, bit for bit, as the
straightforward computation (gather float32 rows and let autocast cast them, repeat, transposes,
widen then activate)."""

import torch

from ffbench.contracts import TrainContext
from ffbench_plugins.goodness.norms import L2Goodness
from ffbench_plugins.negatives.wrong_label import WrongLabelNegatives
from ffbench_plugins.rules.ff import AutocastCopy, FFRule, FoldedInput, StackedFF


def test_autocast_copy_is_cast_once_and_follows_in_place_writes():
    x = torch.arange(12.0).reshape(1, 4, 3) / 7  # sevenths: not exact in bfloat16
    copy = AutocastCopy()
    assert copy(x) is x  # outside autocast: x itself
    with torch.autocast("cpu", dtype=torch.bfloat16):
        first = copy(x)
        assert first.dtype == torch.bfloat16 and torch.equal(first, x.to(torch.bfloat16))
        assert copy(x) is first  # cast once
        x[:, 2:] = 5.0  # e.g. fresh negatives written into the stored input
        second = copy(x)
    assert second is not first
    assert torch.equal(second, x.to(torch.bfloat16))
    assert torch.equal(second[0, 2:].float(), torch.full((2, 3), 5.0))


def _plain_folded_pre(self, w, b, idx):
    """FoldedInput.pre written the straightforward way."""
    s, bsz = idx.shape
    base = torch.baddbmm(b.unsqueeze(1), self.x0n[idx.reshape(-1)].view(s, bsz, -1), w)
    labels = self.embedding.label_columns(w.transpose(1, 2)).transpose(1, 2)
    return torch.baddbmm(base.repeat(1, 2, 1), self._codes(idx), labels)


def _train(data, precision):
    rule = FFRule(epochs=2, width=32, layers=3, batch_size=250)
    ctx = TrainContext(torch.device("cpu"), 0, list(range(10)), 10, precision=precision)
    model = rule.fit(data, L2Goodness(), WrongLabelNegatives(resample=True), ctx)
    return [p.detach().clone() for p in model.parameters()]


def test_bf16_training_equals_the_straightforward_computation(tiny_data, monkeypatch):
    # greedy, 3 layers, fresh negatives every epoch: layer 1 folded, layers 2-3 gather stored rows
    # whose negatives half is rewritten in place every epoch
    fast = _train(tiny_data, "bf16")
    init = StackedFF.__init__

    def widen_first(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.act_exact = False  # widen pre to float32, then the activation

    monkeypatch.setattr(AutocastCopy, "__call__", lambda self, x: x)  # float32 rows, cast by autocast
    monkeypatch.setattr(FoldedInput, "pre", _plain_folded_pre)
    monkeypatch.setattr(StackedFF, "__init__", widen_first)
    plain = _train(tiny_data, "bf16")
    assert all(torch.equal(a, b) for a, b in zip(fast, plain))
    # and bfloat16 did train in bfloat16: its weights differ from float32 training's
    fp32 = _train(tiny_data, "fp32")
    assert not all(torch.equal(a, b) for a, b in zip(fast, fp32))
