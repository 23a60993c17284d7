"""Matmul FLOP counts of the built-in rules' trainers (``LearningRule.training_flops`` and
``baseline_flops``, read by ``ffbench bench``): 2·m·k·n per product that each implementation
actually performs; elementwise work (activations, goodness, loss, optimizer) is not counted.
tests/test_bench.py (ff, bp-ff, bp) and tests/test_flops.py (the zoo rules) check every formula
against torch's own FLOP counter on real training."""

from __future__ import annotations

import torch

from ffbench.contracts import DatasetBundle, NegativeGenerator
from ffbench_plugins.rules.ff_pieces import negatives_due


def mm(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


def _label_scores_flops(dims: list[int], n: int, classes: int, upto: int) -> int:
    """FFNet.label_log_probs on n samples over layers 1..upto: layer 1 folded (one matmul over
    the images), later layers on every (sample, label) row."""
    return mm(n, dims[0], dims[1]) + sum(mm(classes * n, dims[k], dims[k + 1]) for k in range(1, upto))


def _draws(schedule: str, resample: bool, layers: int, epochs: int) -> list[int]:
    """The ``upto`` of every negative draw the FF trainers make (hard negatives score them)."""
    stages = range(layers) if schedule == "greedy" else [0]
    due = (negatives_due(schedule, resample, l, e, layers) for l in stages for e in range(epochs))
    return [upto for upto in due if upto is not None]


def ff_flops(
    dims: list[int],
    n: int,
    epochs: int,
    classes: int,
    schedule: str = "greedy",
    folded: bool = True,
    resample: bool = False,
    scored: bool = False,
) -> int:
    """Matmul FLOPs of FFRule.fit (plugins/rules/ff.py). ``folded``: negatives are the positives'
    images, so layer 1 runs one matmul over the images plus a K = classes label-code matmul;
    ``scored``: hard negatives (label scores of the whole training set at every draw)."""
    layers = len(dims) - 1

    def train_epoch(l: int) -> int:  # forward + weight gradient over n positives and n negatives
        if l == 0 and folded:
            return 2 * mm(n, dims[0], dims[1]) + 2 * mm(2 * n, classes, dims[1])
        return 2 * mm(2 * n, dims[l], dims[l + 1])

    total = epochs * sum(train_epoch(l) for l in range(layers))
    if scored:
        total += sum(_label_scores_flops(dims, n, classes, u) for u in _draws(schedule, resample, layers, epochs))
    if schedule == "simultaneous":
        return total
    for l in range(layers - 1):  # each frozen layer's outputs, once (resampled: positives only)
        rows = n if resample else 2 * n
        total += mm(n, dims[0], dims[1]) if l == 0 and folded else mm(rows, dims[l], dims[l + 1])
    if resample:  # every epoch of layer l >= 2: fresh negatives through the frozen layers
        for l in range(1, layers):
            first = 0 if folded else mm(n, dims[0], dims[1])
            total += epochs * (first + sum(mm(n, dims[k], dims[k + 1]) for k in range(1, l)))
    return total


def baseline_ff_flops(
    dims: list[int],
    n: int,
    epochs: int,
    classes: int,
    schedule: str = "greedy",
    resample: bool = False,
    scored: bool = False,
) -> int:
    """Matmul FLOPs of :func:`baseline_ff`: positives and negatives in separate passes (same
    count as one), and with the greedy schedule the frozen layers recomputed for every batch."""
    layers = len(dims) - 1
    total = 0
    for l in range(layers):
        frozen = sum(mm(2 * n, dims[k], dims[k + 1]) for k in range(l)) if schedule == "greedy" else 0
        total += epochs * (frozen + 2 * mm(2 * n, dims[l], dims[l + 1]))
    if scored:
        total += sum(_label_scores_flops(dims, n, classes, u) for u in _draws(schedule, resample, layers, epochs))
    return total


def bp_ff_flops(
    dims: list[int], n: int, epochs: int, classes: int, resample: bool = False, scored: bool = False
) -> int:
    """Matmul FLOPs of BPFFRule.fit and of its baseline (the same products, batched or not):
    forward and weight gradient of every layer, input gradient of layers 2..L, on 2n rows."""
    layers = len(dims) - 1
    per_epoch = sum((2 if l == 0 else 3) * mm(2 * n, dims[l], dims[l + 1]) for l in range(layers))
    total = epochs * per_epoch
    if scored:
        total += _label_scores_flops(dims, n, classes, layers) * (epochs if resample else 1)
    return total


def bp_flops(dims: list[int], n: int, epochs: int, classes: int) -> int:
    """Matmul FLOPs of BPRule.fit and its baseline: the hidden stack plus the linear head."""
    shapes = list(zip(dims[:-1], dims[1:])) + [(dims[-1], classes)]
    return epochs * sum((2 if i == 0 else 3) * mm(n, a, b) for i, (a, b) in enumerate(shapes))


def generator_keeps_images(negatives: NegativeGenerator, data: DatasetBundle) -> bool:
    """Whether the negatives are the positives' images (FFRule then folds layer 1)."""
    x, y = data.train.x[:64], data.train.y[:64]
    g = torch.Generator(device=x.device).manual_seed(0)
    scores = torch.zeros(len(y), data.num_classes, device=x.device) if negatives.needs_scores else None
    x_neg, _ = negatives.generate(
        x, y, allowed=torch.arange(data.num_classes, device=x.device), generator=g, scores=scores
    )
    return x_neg is x or torch.equal(x_neg, x)


def trains_with_negatives(goodness, negatives) -> bool:
    """The configurations the FF formulas and baselines cover (a self-supervised goodness, e.g.
    dimcompress, trains otherwise: not counted, no baseline)."""
    return goodness is not None and negatives is not None and goodness.needs_negatives


# --- the zoo rules (label-free input; ``dims`` = [input, hidden widths...], ``classes`` outputs) ---
# A backward pass through y = x W^T costs the weight gradient (one product) plus the input
# gradient (one more) only where the input itself needs a gradient: a detached input, the data,
# or a frozen feature never does. Sums over minibatches equal one product on all n rows.


def mono_forward_flops(dims: list[int], n: int, epochs: int, classes: int) -> int:
    """Matmul FLOPs of MonoForwardRule.fit: per epoch, for every layer l on n rows: forward and
    weight gradient of W_l (its input is detached: no input gradient), and forward, weight
    gradient and input gradient (towards h_l) of its projection M_l [width, classes]."""
    per_epoch = sum(2 * mm(n, a, b) + 3 * mm(n, b, classes) for a, b in zip(dims[:-1], dims[1:]))
    return epochs * per_epoch


def dfa_flops(dims: list[int], n: int, epochs: int, classes: int) -> int:
    """Matmul FLOPs of DFARule.fit: per epoch on n rows, every hidden layer's forward and weight
    gradient (inputs detached: no input gradient), its feedback projection e B_l ([n, classes] x
    [classes, width_l], no gradient), and the head's forward and weight gradient (it reads h_L
    detached)."""
    hidden = sum(2 * mm(n, a, b) + mm(n, classes, b) for a, b in zip(dims[:-1], dims[1:]))
    return epochs * (hidden + 2 * mm(n, dims[-1], classes))


def cafo_flops(dims: list[int], n: int, epochs: int, classes: int, frozen: bool = False) -> int:
    """Matmul FLOPs of CaFoRule.fit, blocks trained one after the other for ``epochs`` each.
    Trained blocks: per epoch of block l, the block's forward and weight gradient and its
    predictor's forward, weight gradient and input gradient; after every block but the last,
    its output on the whole training set once (the next block's input). ``frozen``: each block's
    output on the training set once (no block backward), then per epoch the predictor's forward
    and weight gradient only (its input is a fixed feature)."""
    total = 0
    for l, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        if frozen:
            total += mm(n, a, b) + epochs * 2 * mm(n, b, classes)
        else:
            total += epochs * (2 * mm(n, a, b) + 3 * mm(n, b, classes))
            total += mm(n, a, b) if l + 2 < len(dims) else 0
    return total


def pepita_flops(dims: list[int], n: int, epochs: int, classes: int) -> int:
    """Matmul FLOPs of PepitaRule.fit (no backward pass): per epoch on n rows, the standard pass
    (hidden layers and the output layer), the input perturbation e F^T ([n, classes] x [classes,
    input]), the modulated pass (hidden layers only: its output is not read), and the updates
    (h_l - h'_l)^T h'_{l-1} per hidden layer and e^T h'_L for the output layer."""
    hidden = sum(mm(n, a, b) for a, b in zip(dims[:-1], dims[1:]))
    return epochs * (3 * hidden + 2 * mm(n, dims[-1], classes) + mm(n, classes, dims[0]))


def random_readout_flops(dims: list[int], n: int, epochs: int, classes: int) -> int:
    """Matmul FLOPs of RandomRule.fit: the frozen stack's forward pass over the training set once
    (the readout's features; the stack is never trained), then per epoch the readout's forward
    and weight gradient on n rows (its input is a fixed feature: no input gradient)."""
    return sum(mm(n, a, b) for a, b in zip(dims[:-1], dims[1:])) + epochs * 2 * mm(n, dims[-1], classes)
