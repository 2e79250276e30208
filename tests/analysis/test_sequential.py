"""Tests for analysis.sequential: the empirical-Bernstein confidence sequence.

Reference values come from the authors' implementation (the ``confseq`` package, 0.0.11, its
pure-Python ``predmix`` module; it needs ``np.float_`` restored under numpy 2):

    python -c "import numpy as np; np.float_ = np.float64;
      from confseq.predmix import predmix_empbern_twosided_cs as cs;
      x = np.array(X); print(list(cs(x, alpha=0.05, truncation=0.5)[0]),
      list(cs(x, alpha=0.05, truncation=0.5, running_intersection=True)[0]))"

with ``X`` the stream below, and for the 500 Bernoulli(0.3) draws of
``np.random.default_rng(7)``: bounds after 100 and 500 observations.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.sequential import clustered_confidence_sequence, confidence_sequence

X = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0.5, 1, 1, 0, 1, 1, 1, 1, 0, 1]
# predmix_empbern_twosided_cs(X)[0][11:] (no running intersection); the upper bound is 1
# throughout (a short stream of mostly ones).
REFERENCE_LOW = [
    0.0,
    0.03915150538893031,
    0.021619945582590838,
    0.08418458158705833,
    0.13925013945656772,
    0.1880850437503272,
    0.23168768918352167,
    0.20805725406176057,
    0.24603591429165356,
]


def test_the_sequence_matches_the_authors_implementation() -> None:
    cs = confidence_sequence(X, running_intersection=False)
    assert list(cs.low[:11]) == [0.0] * 11
    assert cs.low[11:] == pytest.approx(REFERENCE_LOW, abs=1e-12)
    assert list(cs.high) == [1.0] * len(X)
    y = (np.random.default_rng(7).random(500) < 0.3).astype(float)
    long = confidence_sequence(y, running_intersection=False)
    # -> 0.15082017317306734 0.4768901567574939 (t = 100), 0.2093827053643948
    #    0.3609807502859177 (t = 500)
    assert (long.low[99], long.high[99]) == pytest.approx(
        (0.15082017317306734, 0.4768901567574939), abs=1e-12
    )
    assert long.final == pytest.approx((0.2093827053643948, 0.3609807502859177), abs=1e-12)


def test_the_running_intersection_never_widens() -> None:
    cs = confidence_sequence(X)
    # predmix_empbern_twosided_cs(X, running_intersection=True)[0][-3:]
    assert cs.low[-3:] == pytest.approx(
        [0.23168768918352167, 0.23168768918352167, 0.24603591429165356], abs=1e-12
    )
    assert (np.diff(cs.low) >= 0).all() and (np.diff(cs.high) <= 0).all()


def test_it_covers_the_mean_at_every_time_at_once() -> None:
    # 400 streams of 300 Bernoulli(0.2) observations: the share of streams whose sequence
    # ever misses 0.2 is at most alpha (up to Monte-Carlo error; the bound is conservative).
    rng = np.random.default_rng(11)
    missed = 0
    for _ in range(400):
        cs = confidence_sequence(rng.random(300) < 0.2)
        missed += bool(((cs.low > 0.2) | (cs.high < 0.2)).any())
    assert missed / 400 <= 0.05
    # It does narrow: after 300 observations far from the trivial [0, 1].
    assert cs.final[1] - cs.final[0] < 0.25


def test_a_decided_comparison_excludes_one_half() -> None:
    wins = confidence_sequence(np.ones(40))
    assert wins.excludes(0.5) and not confidence_sequence([1, 0] * 20).excludes(0.5)
    assert confidence_sequence([]).final == (0.0, 1.0)


def test_the_clustered_sequence_runs_over_item_means_in_arrival_order() -> None:
    values = [1, 0, 1, 1, 0, 0, 1]
    items = ["b", "b", "a", "c", "a", "c", "d"]
    clustered = clustered_confidence_sequence(values, items)
    plain = confidence_sequence([0.5, 0.5, 0.5, 1.0])  # b, a, c, d
    assert clustered.low == pytest.approx(plain.low) and clustered.high == pytest.approx(plain.high)


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        ([0.2, 1.5], {}, r"\[0, 1\]"),
        ([float("nan")], {}, r"\[0, 1\]"),
        ([0.5], {"alpha": 0.0}, "alpha"),
        ([0.5], {"truncation": 1.0}, "truncation"),
    ],
)
def test_bad_input_is_refused_with_a_message(x: list[float], kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        confidence_sequence(x, **kwargs)
