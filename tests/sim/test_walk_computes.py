"""The walk engine's COMPUTE order (sim/walk_computes.py): the last unit's two waves of a 1x1
layer interleaved (WalkComputes.tail_interleave), checked on DS-CNN's pointwise shape."""

import numpy as np
import pytest
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel

from dure.gemm_cost import WALK_TAIL_PORT_BYTES

from .test_walk_emit import ADDRS, CONFIG, MAIN, _program

SHAPE = (1, 25, 5, 64)        # DS-CNN's pointwise layers: 64 -> 64, 8 input chunks


def _tail(prog):
    """The COMPUTEs of the layer's last output chunk that follow the last one of any other
    chunk, as ``(acc_addr, w_addr, m)``."""
    comps = [f for op, f in map(decode, prog.descriptors) if op == Opcode.COMPUTE]
    last_w = comps[-1]["w_addr"] // prog.plan.slot
    start = max(i for i, f in enumerate(comps) if f["w_addr"] // prog.plan.slot != last_w) + 1
    return [(f["acc_addr"], f["w_addr"], f["m"]) for f in comps[start:]]


@pytest.mark.parametrize("precision, out_bytes", [("int8", 1), ("fp16", 2)])
def test_the_last_chunks_two_waves_alternate_until_the_tail(precision, out_bytes):
    prog, _, _ = _program(precision, SHAPE, 64, (1, 1))
    tail = _tail(prog)
    waves = sorted({acc for acc, _, _ in tail})
    assert len(waves) == 2 and len(tail) == 2 * 8
    a = [t for t in tail if t[0] == waves[0]]
    b = [t for t in tail if t[0] == waves[1]]
    # each wave's input chunks in rising order (one ACC row's sums, FP16 exact)
    assert [w for _, w, _ in a] == sorted(w for _, w, _ in a)
    assert [w for _, w, _ in b] == sorted(w for _, w, _ in b)
    a_px, b_px = a[0][2], b[0][2]
    assert (a_px, b_px) == (65, 60)
    # the second wave's COMPUTEs after the first's last cover its STORE at the port's rate
    k = -(-a_px * 8 * out_bytes // (WALK_TAIL_PORT_BYTES * b_px))
    assert k == (3 if precision == "int8" else 5)
    m = 8 - k
    want = [x for i in range(m) for x in (a[i], b[i])] + a[m:] + b[m:]
    assert tail == want


@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_the_interleaved_tail_stays_bit_exact(precision):
    prog, x, want = _program(precision, SHAPE, 64, (1, 1), seed=3)
    model = NpuModel(CONFIG)
    model.set_window(MAIN.base, MAIN.size)
    got = run_on_model(model, prog, [(ADDRS[0], x)])
    assert np.array_equal(got.reshape(want.shape).view(np.uint8), want.view(np.uint8))


def test_waves_of_latency_pixels_or_more_stay_one_after_the_other():
    """MobileNetV1-0.25's 12x12x64 -> 64: its last chunk's waves of 72 pixels (links not
    closer than LATENCY) keep the first wave's COMPUTEs ahead of the second's."""
    prog, _, _ = _program("int8", (1, 12, 12, 64), 64, (1, 1))
    tail = _tail(prog)
    waves = sorted({acc for acc, _, _ in tail})
    assert len(waves) == 2 and {m for _, _, m in tail} == {72}
    assert [acc for acc, _, _ in tail] == [waves[0]] * 8 + [waves[1]] * 8
