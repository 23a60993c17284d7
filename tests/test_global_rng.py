"""The deprecated global-RNG seeding around fit (ffbench/global_rng.py): a plugin rule that
draws from torch's global RNG stays reproducible, and the caller's RNG stream is untouched."""

import torch

from ffbench.global_rng import legacy_global_seed

CPU = torch.device("cpu")


def test_the_block_is_seeded_with_the_points_seed_whatever_ran_before():
    draws = []
    for before in (0, 1234):
        torch.manual_seed(before)
        torch.randn(17)
        with legacy_global_seed(5, CPU):
            draws.append(torch.randn(4))
    torch.manual_seed(5)
    assert torch.equal(draws[0], draws[1]) and torch.equal(draws[0], torch.randn(4))


def test_the_callers_rng_stream_is_restored():
    torch.manual_seed(99)
    expected = torch.randn(3)
    torch.manual_seed(99)
    with legacy_global_seed(7, CPU):
        torch.randn(10)
    assert torch.equal(torch.randn(3), expected)
