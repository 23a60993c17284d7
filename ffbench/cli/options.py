"""The command line's options that several commands share, declared once as typer ``Annotated``
aliases, and every option whose values form a fixed set, as a choice: click refuses any other value
before the command runs, naming it and the valid ones (one mechanism, one message, exit code 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import torch
import typer

from ffbench.bench import CLOCKS
from ffbench.errors import FFBenchError
from ffbench.executors import EXECUTORS
from ffbench.precision import PRECISIONS
from ffbench.provenance import resolve_device

# Literal[tuple]: the choices as typer shows ([a|b|c]) and checks them; the value stays a plain str
Precision = Literal[PRECISIONS]
Preset = Literal["quick", "paper"]
StackSeeds = Literal["auto", "on", "off"]
Executor = Literal[EXECUTORS]
Clock = Literal[tuple(CLOCKS)]


def _device(name: str) -> torch.device:
    """--device as a torch.device; an unknown one, or CUDA where torch sees none, refused by click."""
    try:
        return resolve_device(name)
    except FFBenchError as exc:
        raise typer.BadParameter(str(exc)) from None


DeviceOpt = Annotated[
    torch.device,
    typer.Option(
        parser=_device,
        metavar="<device>",
        help="Where to train: auto (cuda when torch sees one, else cpu), cpu, cuda or cuda:N.",
    ),
]
PrecisionOpt = Annotated[
    Precision,
    typer.Option(
        help="fp32; tf32 (TF32 matmuls, CUDA); bf16 (autocast to bfloat16: CUDA, or a CPU with native bfloat16 "
        "matmuls, where `ffbench run` trains only the rules verified in docs/precision.md). Part of a result's "
        "identity."
    ),
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Dataset folder (default $FFBENCH_DATA or the user cache).")
]
DownloadOpt = Annotated[
    bool, typer.Option("--download/--no-download", help="Download missing datasets where the network allows.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or logs on stderr.")]
