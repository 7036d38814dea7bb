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


def test_aliases_share_the_root_and_extend_its_lifetime():
    """A view takes its root's offset (through a chain of views); the root lives as long as
    its last view, so a buffer written meanwhile never lands on its bytes."""
    ivs = [Interval("x", 256, -1, 0), Interval("a", 256, 0, 1), Interval("v1", 256, 1, 2),
           Interval("v2", 256, 2, 5), Interval("b", 256, 3, 4), Interval("c", 256, 4, 5)]
    plan = plan_memory(ivs, aliases={"v1": "a", "v2": "v1"})
    assert plan.offsets["v1"] == plan.offsets["v2"] == plan.offsets["a"]
    # a lives over steps 0..5 with its views: b and c (alive at 3..5) keep off its bytes
    for other in ("b", "c"):
        o = plan.offsets[other]
        assert o + 256 <= plan.offsets["a"] or o >= plan.offsets["a"] + 256
    assert plan.total == 4 * 256                    # views take no bytes of their own
    alone = plan_memory([iv for iv in ivs if iv.name not in ("v1", "v2")])
    assert alone.total == plan.total


def test_bad_aliases_refused():
    ivs = [Interval("a", 64, 0, 1), Interval("v", 32, 1, 2), Interval("w", 64, 1, 2)]
    with pytest.raises(ValueError, match="cannot alias"):
        plan_memory(ivs, aliases={"v": "a"})
    with pytest.raises(ValueError, match="unknown buffer"):
        plan_memory(ivs, aliases={"w": "nowhere"})
    with pytest.raises(ValueError, match="cycle"):
        plan_memory(ivs, aliases={"a": "w", "w": "a"})
