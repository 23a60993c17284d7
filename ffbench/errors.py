"""Errors that ffbench reports to users as one clear paragraph (no traceback)."""

from __future__ import annotations

import difflib


class FFBenchError(Exception):
    """An error caused by user input or the environment, shown without a traceback."""


class UnknownComponentError(FFBenchError):
    def __init__(self, kind: str, name: str, valid: list[str]):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        close = difflib.get_close_matches(name, self.valid, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        super().__init__(
            f"Unknown {kind} '{name}'.{hint} Valid {kind} names: {', '.join(self.valid) or '(none installed)'}."
        )


class ParameterError(FFBenchError):
    """A component parameter that does not exist or has a bad value."""


class CollisionError(FFBenchError):
    """Two distributions register a component of the same kind under the same name."""


class IncompatibleError(FFBenchError, ValueError):
    """A rule, goodness and negatives that cannot train together (:func:`ffbench.compat.refusal`
    says why). Also a ValueError, which ``LearningRule.require_accepts`` raised before."""


class DatasetNotFoundError(FFBenchError):
    """A dataset whose files are missing and cannot be downloaded."""


class TrainingDivergedError(FFBenchError):
    """Training produced a non-finite loss or non-finite weights (e.g. a learning rate far too
    high). The point is recorded as failed with this reason and its model is never cached."""
