"""The optimiser and batching every built-in rule trains with: the optimizer parameters
(``OPTIMIZER_PARAMS``) and their checks, the optimizer and schedule they build
(:func:`make_optimizer`), shuffled minibatches from the run's generator (:func:`batches`), and the
epoch loop of the rules trained by one loss on minibatches (:func:`minibatch_epochs`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from ffbench.component import Param, ParameterError
from ffbench.contracts import TrainContext

OPTIMIZER_PARAMS = (
    Param(
        "optimizer",
        str,
        "adam",
        "adam, adamw (decoupled weight decay; the DC reference), or sgd (with `momentum`; the goodness study)",
        choices=("adam", "adamw", "sgd"),
    ),
    Param("weight_decay", float, 0.0, "weight decay (adamw: decoupled; adam, sgd: L2 added to the gradient)", min=0.0),
    Param(
        "momentum",
        float,
        0.0,
        "sgd only: heavy-ball momentum mu in [0, 1): v <- mu v + g, p <- p - lr v (torch.optim.SGD)",
        min=0.0,
        max=1.0,
        omit_at_default=True,  # added after boards were published: default configurations keep their ids
    ),
    Param(
        "lr_schedule",
        str,
        "constant",
        "constant; cosine decay to 0 over the training steps; or cooldown (the goodness study's "
        "linear cool-down: per epoch e of E, lr for e <= E // 2, then lr * 2 (E + 1 - e) / E)",
        choices=("constant", "cosine", "cooldown"),
    ),
)


def cooldown_factor(epoch: int, epochs: int) -> float:
    """The learning-rate factor of 0-based ``epoch`` of ``epochs`` under ``lr_schedule=cooldown``:
    the goodness study's ``get_linear_cooldown_lr`` (github.com/aryashah2k/In-Search-of-Goodness
    ``src/utils.py:259-261``, commit 28b310b0, set at the start of every epoch by ``main.py``):
    1 for epoch <= epochs // 2, then 2 (epochs + 1 - epoch) / epochs. For an even E it is 1 up to
    epoch E/2 + 1 and falls by 2/E per epoch to 4/E at the last epoch (E = 20: 1 for epochs 0-11,
    then 0.9, 0.8, ... 0.2); it never reaches 0. For an odd E the first cooled epoch (E + 1)/2 has
    factor (E + 1)/E > 1 (E = 5: 1, 1, 1, 1.2, 0.8), as in the study's code."""
    return 1.0 if epoch <= epochs // 2 else 2.0 * (epochs + 1 - epoch) / epochs


def check_optimizer_values(values: dict, owner: str = "") -> None:
    """Refuse optimizer settings that would be silently ignored or diverge: ``momentum`` must be
    in [0, 1), and nonzero only with ``optimizer=sgd`` (Adam's momentum is its betas). Rules call
    it when their parameters are resolved (``__init_component__``), before any training; a rule
    without the ``optimizer`` parameter (pepita: SGD with its own momentum) has nothing to check."""
    if "optimizer" not in values:
        return
    where = f"{owner}." if owner else ""
    mu = values.get("momentum", 0.0)
    if not 0.0 <= mu < 1.0:
        raise ParameterError(f"Bad value {mu!r} for parameter '{where}momentum': must be in [0, 1).")
    if mu and values["optimizer"] != "sgd":
        raise ParameterError(
            f"Parameter '{where}momentum' = {mu!r} applies only to optimizer=sgd, not "
            f"optimizer={values['optimizer']!r} (Adam's momentum is fixed by its betas): set optimizer=sgd "
            "or momentum=0."
        )


class ChecksOptimizerParams:
    """Mixin for rules with OPTIMIZER_PARAMS: refuse inconsistent optimizer values (e.g. momentum
    without sgd) when the parameters are resolved, before any training."""

    def __init_component__(self) -> None:
        check_optimizer_values(self.values, self.name)  # type: ignore[attr-defined]


def make_optimizer(values: dict, params, steps: int):
    """(optimizer, scheduler or None) from a rule's optimizer parameters (``OPTIMIZER_PARAMS``);
    ``steps``: the optimizer steps of the whole training, ``epochs`` times the steps of one epoch
    (the scheduler is stepped after every optimizer step).
    Adam(W) uses the fused kernel on CPU and CUDA (one pass over the parameters per step; same
    update rule). SGD is torch.optim.SGD with ``momentum`` (no dampening, no Nesterov; the first
    step's velocity is the gradient). All three are elementwise, so S seeds' parameters stacked
    in one tensor under one optimizer (loss summed over seeds) update as S separate optimizers."""
    params = list(params)
    check_optimizer_values(values)
    if values["optimizer"] == "sgd":
        opt = torch.optim.SGD(
            params, lr=values["lr"], momentum=values.get("momentum", 0.0), weight_decay=values["weight_decay"]
        )
    else:
        cls = torch.optim.AdamW if values["optimizer"] == "adamw" else torch.optim.Adam
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
        opt = cls(params, lr=values["lr"], weight_decay=values["weight_decay"], fused=fused or None)
    sched = None
    if values["lr_schedule"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    elif values["lr_schedule"] == "cooldown":
        # per epoch (``steps`` = epochs x steps per epoch, the scheduler stepped after every step)
        epochs = values["epochs"]
        per_epoch = max(1, -(-steps // epochs))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: cooldown_factor(t // per_epoch, epochs))
    return opt, sched


def optimizer_step(opt: torch.optim.Optimizer, sched, loss: torch.Tensor) -> None:
    """One update: gradients of ``loss`` into the (zeroed) parameters of ``opt``, its step, then the
    scheduler's (``sched`` None: no schedule), as :func:`make_optimizer` returns them."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()


def batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device):
    """Shuffled index batches covering 0..n-1 once (the last one may be smaller)."""
    return torch.randperm(n, generator=generator, device=device).split(batch_size)


def forward_in_chunks(fn, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Apply ``fn`` to row chunks of ``x`` without gradients and concatenate."""
    with torch.no_grad():
        return torch.cat([fn(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])


def minibatch_epochs(
    values: dict,
    params,
    n: int,
    ctx: TrainContext,
    step_loss,
    stage: str,
    *,
    part: tuple[int, int] = (0, 1),
    where: str = "",
    before_epoch: Callable[[int], None] | None = None,
    autocast: bool = True,
) -> list[torch.Tensor]:
    """The training loop of the rules trained by one loss on minibatches (bp, dfa, random,
    mono-forward, cafo per block, bp-ff): ``values["epochs"]`` epochs of shuffled minibatches of
    ``values["batch_size"]`` under ``make_optimizer(values, params, ...)``.
    ``step_loss(idx)`` (run under ``ctx.autocast()``; with ``autocast`` False it enters it itself)
    returns (the loss to back-propagate, the loss to report: a scalar or one value per layer).
    ``before_epoch(epoch)`` (0-based) runs before each epoch's batch order is drawn (bp-ff draws
    its negatives there). ``part`` = (i, k): this loop is part i (0-based) of k trained one after
    the other (cafo's blocks), so progress counts over all k; ``where`` (e.g. "block 2, ") goes
    before "epoch N" in a divergence message. Returns each epoch's mean reported loss; stops at
    once (TrainingDivergedError) when it is not finite."""
    epochs, bs = values["epochs"], values["batch_size"]
    index, parts = part
    opt, sched = make_optimizer(values, params, epochs * -(-n // bs))
    losses = []
    for epoch in range(epochs):
        if before_epoch is not None:
            before_epoch(epoch)
        total = torch.zeros((), device=ctx.device)
        for idx in batches(n, bs, ctx.generator, ctx.device):
            with ctx.autocast() if autocast else contextlib.nullcontext():
                loss, reported = step_loss(idx)
            optimizer_step(opt, sched, loss)
            total = total + reported.detach() * len(idx)
        losses.append(total / n)
        ctx.check_loss(losses[-1], f"{where}epoch {epoch + 1}")
        ctx.progress(index * epochs + epoch + 1, parts * epochs, stage)
    return losses
