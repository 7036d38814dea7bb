"""Memory plan: buffers alive at the same time never share bytes; others are reused."""

import numpy as np
import pytest
from dure.compiler.memory_plan import Interval, align_up, plan_memory


def _overlap(a, b):
    return not (a.last < b.first or b.last < a.first)


def test_chain_reuses_memory():
    ivs = [Interval(f"t{i}", 1000, i - 1, i) for i in range(6)]
    plan = plan_memory(ivs)
    assert plan.size == 2 * align_up(1000)
    assert plan.total == 6 * align_up(1000)


@pytest.mark.parametrize("seed", range(20))
def test_random_lifetimes_never_collide(seed):
    rng = np.random.default_rng(seed)
    ivs = []
    for i in range(30):
        first = int(rng.integers(-1, 20))
        ivs.append(Interval(f"b{i}", int(rng.integers(1, 5000)), first,
                            first + int(rng.integers(0, 6))))
    plan = plan_memory(ivs)
    for a in ivs:
        oa = plan.offsets[a.name]
        assert oa % 16 == 0 and oa + a.size <= plan.size
        for b in ivs:
            if a is not b and _overlap(a, b):
                ob = plan.offsets[b.name]
                assert oa + a.size <= ob or ob + b.size <= oa, (a, b)
    live = max(sum(align_up(iv.size) for iv in ivs if iv.first <= t <= iv.last)
               for t in range(-1, 30))
    assert live <= plan.size <= plan.total


def test_bad_interval():
    with pytest.raises(ValueError):
        plan_memory([Interval("x", 10, 3, 2)])
