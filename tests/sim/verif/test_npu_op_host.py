"""The C-versus-Python harness (sim/verif/npu_op_host.py) can fail: Buffers.check refuses a
differing descriptor word, a differing parameter byte, a different count and a one-sided
refusal, and accepts an equal list; try_plan turns a planner's refusal into None. (The C
planners themselves are compared in tests/firmware/test_npu_conv.py and its siblings.)"""

from types import SimpleNamespace

import numpy as np
import pytest
from dure.sim.verif.npu_op_host import PARAM_ADDR, Buffers, try_plan


def _program():
    words = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]]
    return SimpleNamespace(descriptors=words, blobs=[(PARAM_ADDR + 4, b"\x01\x02\x03")])


def _filled():
    bufs = Buffers()
    bufs.list[:16] = np.arange(1, 17)
    bufs.param[4:7] = [1, 2, 3]
    return bufs


def test_equal_lists_pass():
    assert _filled().check(2, _program(), "same") is True
    assert Buffers().check(-3, None, "both refuse") is False


def test_differences_fail():
    bufs = _filled()
    bufs.list[9] ^= 1
    with pytest.raises(AssertionError, match="descriptor 1 differs"):
        bufs.check(2, _program(), "word")
    bufs = _filled()
    bufs.param[6] = 0
    with pytest.raises(AssertionError, match="parameter bytes differ"):
        bufs.check(2, _program(), "byte")
    with pytest.raises(AssertionError, match="1 descriptors, Python 2"):
        _filled().check(1, _program(), "count")
    with pytest.raises(AssertionError, match="C refuses"):
        _filled().check(-1, _program(), "refused")
    with pytest.raises(AssertionError, match="C accepts what Python refuses"):
        _filled().check(2, None, "accepted")


def test_try_plan():
    def planner(x):
        if x < 0:
            raise ValueError("refused")
        return x + 1
    assert try_plan(planner, 1) == 2
    assert try_plan(planner, -1) is None
