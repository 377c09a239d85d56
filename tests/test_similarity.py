"""Rank correlations against hand-computed values."""

from __future__ import annotations

import math

from mdesign.refinement.similarity import average_ranks, kendall_tau, spearman


def test_average_ranks_share_ties() -> None:
    assert average_ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_spearman_by_hand() -> None:
    # ranks x: 1 2 3 4 5; ranks y: 2 1 4 3 5 -> d^2 = 1+1+1+1+0 = 4
    # rho = 1 - 6*4 / (5*24) = 0.8
    assert math.isclose(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.8)
    assert math.isclose(spearman([1, 2, 3], [3, 2, 1]), -1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_kendall_tau_b_by_hand() -> None:
    # pairs of (1..4) vs (1,3,2,4): 5 concordant, 1 discordant -> (5-1)/6
    assert math.isclose(kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]), 4 / 6)
    # with a tie in y: x=(1,2,3), y=(1,1,2): C=2, D=0, n0=3, ties_y=1 -> 2/sqrt(3*2)
    assert math.isclose(kendall_tau([1, 2, 3], [1, 1, 2]), 2 / math.sqrt(6))
