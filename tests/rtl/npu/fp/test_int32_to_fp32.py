"""Int32ToFp32 against numpy's int32 -> float32 conversion (round to nearest even)."""

import numpy as np
import pytest
from dure.rtl.npu.fp import Int32ToFp32

EDGES = [0, 1, -1, 2, -2, 3, 2**24 - 1, 2**24, 2**24 + 1, 2**24 + 2, 2**24 + 3, -(2**24 + 1),
         2**25 + 2, 2**25 + 6, 2**31 - 1, -(2**31), -(2**31) + 1, 2**31 - 64, 2**31 - 65,
         2**31 - 128, 0x7FFFFFC0, 0x7FFFFFBF]


def integers(rng, n):
    """Random int32: every magnitude length, low bits set up for ties and near-ties."""
    mag = rng.integers(0, 1 << 31, n, dtype=np.int64) >> rng.integers(0, 32, n)
    cut = rng.integers(0, 9, n)
    tie = ((mag >> cut) << cut) | ((1 << cut) >> 1)
    mag = np.where(rng.random(n) < 0.4, tie, mag)
    value = np.where(rng.random(n) < 0.5, -mag, mag)
    value[rng.random(n) < 0.01] = -(2**31)
    return value


def check(model, x, **kwargs):
    out = model.run(i_a=x, **kwargs)
    got = out["o_z"].astype(np.uint32)
    want = np.asarray(x, np.int64).astype(np.int32).astype(np.float32).view(np.uint32)
    bad = np.flatnonzero(got != want)
    detail = ", ".join(f"{int(x[k])} -> {int(got[k]):#010x} (numpy {int(want[k]):#010x})"
                       for k in bad[:8])
    assert not len(bad), f"{len(bad)} of {len(x)} wrong: {detail}"
    assert np.all(out["latency"] == Int32ToFp32.LATENCY)


def test_edges(vector_model):
    check(vector_model(Int32ToFp32), np.array(EDGES, np.int64))


def test_million_random(vector_model):
    rng = np.random.default_rng(20260524)
    check(vector_model(Int32ToFp32), integers(rng, 1_000_000), stall_per_mille=100,
          gap_per_mille=100, seed=6)


def test_pipeline_contract(check_contract):
    x = np.array(EDGES, np.int64)
    want = x.astype(np.int32).astype(np.float32).view(np.uint32)
    check_contract(Int32ToFp32(), [{"i_a": int(v) & 0xFFFFFFFF} for v in x],
                   [{"o_z": int(z)} for z in want], Int32ToFp32.LATENCY)


@pytest.mark.slow
def test_ten_million_random(vector_model):
    rng = np.random.default_rng(96)
    for _ in range(10):
        check(vector_model(Int32ToFp32), integers(rng, 1_000_000))
