"""The latency histogram helper shared by the delivery counters and the canary arms."""

import math

from runtime.histograms import Buckets

BUCKETS = Buckets((5, 10, 100))


def test_a_value_counts_under_the_first_bound_it_does_not_exceed():
    histogram = BUCKETS.add({}, [0, 5, 5.01, 10, 99.9, 100, 100.5, 10**9, None])
    assert histogram == {"5": 2, "10": 2, "100": 2, "inf": 2}


def test_add_returns_a_copy_and_keeps_earlier_counts():
    before = {"5": 1}
    after = BUCKETS.add(before, [3, 50])
    assert before == {"5": 1}
    assert after == {"5": 2, "100": 1}


def test_percentile_is_the_bound_under_which_the_fraction_falls():
    histogram = {"5": 50, "10": 45, "100": 4, "inf": 1}
    assert BUCKETS.percentile(histogram, 0.5) == 5.0
    assert BUCKETS.percentile(histogram, 0.95) == 10.0
    assert BUCKETS.percentile(histogram, 0.99) == 100.0
    assert math.isinf(BUCKETS.percentile(histogram, 1.0))


def test_percentile_of_nothing_is_none():
    assert BUCKETS.percentile({}, 0.95) is None
    assert BUCKETS.percentile({"5": 0}, 0.5) is None
