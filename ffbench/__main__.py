"""`python -m ffbench` is the `ffbench` command."""

from ffbench.cli import main

main()
