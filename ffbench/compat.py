"""Whether a learning rule, a goodness function and a negative generator train together: the one
decision, asked here by ``ffbench run`` (the grid), ``ffbench bench``, the conformance kit and a
rule's ``fit`` (:meth:`~ffbench.contracts.LearningRule.require_accepts`).

:func:`partners` is the goodness and negatives a rule reads of those given (None for one it does
not read). :func:`refusal` is None when they train together, else the reason: one sentence naming
the components and what would work. It refuses, in this order,

1. a partner the rule reads that was not given;
2. a goodness and negatives that do not pair (:meth:`~ffbench.contracts.Goodness.pairs_with`:
   e.g. a goodness trained without negatives, with a generator that makes them);
3. whatever the rule refuses (:meth:`~ffbench.contracts.LearningRule.accepts`). Its default
   (:func:`default_refusal`) refuses the pair as in 2 and the negatives a rule must opt in to:
   label-free ones and ones that need the model. Advice that names a rule (``use ff[label=none]``)
   lives in that rule's own ``accepts``.

:func:`require_compatible` raises every refusal as one error type,
:class:`~ffbench.errors.IncompatibleError`.

In a grid of several rules, goodness functions and negatives, a refused combination is skipped
with its reason as a note while each of its components trains in another point; a chosen component
that no point trains is an error carrying the reasons, raised before anything trains. So a goodness
that fits none of the chosen negatives (or a rule that accepts none of the chosen partners) is an
error, not a note: it was asked for by name, and a note would leave it silently missing from the
results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffbench.errors import IncompatibleError

if TYPE_CHECKING:  # for annotations only: ffbench.contracts imports this module
    from ffbench.contracts import Goodness, LearningRule, NegativeGenerator


def partners(
    rule: LearningRule, goodness: Goodness | None, negatives: NegativeGenerator | None
) -> tuple[Goodness | None, NegativeGenerator | None]:
    """The goodness and negatives ``rule`` reads of those given: each, or None where the rule reads
    none (``uses_goodness`` / ``uses_negatives`` False)."""
    return (goodness if rule.uses_goodness else None, negatives if rule.uses_negatives else None)


def pair_refusal(goodness: Goodness | None, negatives: NegativeGenerator | None) -> str | None:
    """Why ``goodness`` and ``negatives`` cannot train together (:meth:`Goodness.pairs_with`), or
    None when they pair or one of them is None."""
    if goodness is None or negatives is None:
        return None
    ok, reason = goodness.pairs_with(negatives)
    return None if ok else reason or f"goodness '{goodness.name}' does not pair with negatives '{negatives.name}'"


def default_refusal(rule: LearningRule, goodness: Goodness | None, negatives: NegativeGenerator | None) -> str | None:
    """What :meth:`LearningRule.accepts` refuses unless a rule overrides it: a goodness and
    negatives that do not pair, and negatives a rule must opt in to: label-free ones
    (:attr:`NegativeGenerator.label_free`) and ones that need the model (``needs_model``)."""
    reason = pair_refusal(goodness, negatives)
    if reason is not None or negatives is None:
        return reason
    if negatives.label_free:
        return (
            f"negatives '{negatives.name}' carry no label (label_free), and rule '{rule.name}' does not train "
            "on label-free negatives: choose negatives with labels, or a rule that trains label-free"
        )
    if negatives.needs_model:
        return (
            f"negatives '{negatives.name}' need the model (needs_model), the network being trained, which rule "
            f"'{rule.name}' does not pass them: choose other negatives, or a rule that passes its model"
        )
    return None


def refusal(rule: LearningRule, goodness: Goodness | None, negatives: NegativeGenerator | None) -> str | None:
    """None when ``rule`` trains with ``goodness`` and ``negatives`` (those it does not read are
    ignored), else why not: one sentence naming the components and what would work."""
    goodness, negatives = partners(rule, goodness, negatives)
    for what, reads, given in (
        ("goodness function", rule.uses_goodness, goodness),
        ("negative generator", rule.uses_negatives, negatives),
    ):
        if reads and given is None:
            return f"rule '{rule.name}' trains with a {what}, and none was given"
    reason = pair_refusal(goodness, negatives)
    if reason is None:
        ok, why = rule.accepts(goodness, negatives)
        reason = None if ok else why or f"rule '{rule.name}' refuses this goodness and these negatives"
    return reason


def require_compatible(rule: LearningRule, goodness: Goodness | None, negatives: NegativeGenerator | None) -> None:
    """Raise :class:`IncompatibleError` with :func:`refusal`'s reason when it refuses."""
    reason = refusal(rule, goodness, negatives)
    if reason is not None:
        raise IncompatibleError(reason.rstrip(".") + ".")
