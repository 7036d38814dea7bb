"""The walk engine's COMPUTE order (sim/walk_computes.py): the last unit's two waves of a 1x1
layer interleaved (WalkComputes.tail_interleave) and the first unit's head with the first pair
copy (WalkComputes.first_pair_applies), checked on DS-CNN's pointwise shape."""

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


def _head(prog):
    """The descriptors up to the second COMPUTE, as ``(opcode, fields)``."""
    out = []
    for op, f in map(decode, prog.descriptors):
        out.append((op, f))
        if op == Opcode.COMPUTE and sum(o == Opcode.COMPUTE for o, _ in out) == 2:
            return out
    return out


def test_the_first_two_chunks_take_their_first_weights_from_one_copy():
    """DS-CNN's pointwise INT8 (first_pair_applies): the first two output chunks' starting
    values in one LOAD, their weights of input chunk 0 in one LOAD of the copy (two groups a
    slot apart), the first part's image rows, the first COMPUTE (a quarter of the rows
    rounded up), then the group's other starting values ahead of anything else."""
    prog, _, _ = _program("int8", SHAPE, 64, (1, 1))
    head = _head(prog)
    ops = [op for op, _ in head]
    assert ops[:4] == [Opcode.LOAD, Opcode.LOAD, Opcode.LOAD, Opcode.COMPUTE]
    (_, bias), (_, w), (_, image), (_, first) = head[:4]
    assert bias["rows"] == 2 and bias["local_addr"] == first["init_addr"]
    assert (w["rows"], w["local_cols"], w["local_groups"]) == (16, 8, 2)
    assert w["local_addr"] == first["w_addr"] and w["local_row_step"] == prog.plan.slot
    second = head[-1][1]
    assert second["w_addr"] == first["w_addr"] + prog.plan.slot
    assert first["m"] == 7 * 5 and image["rows"] == 7 * 5       # ceil(25 / 4) rows of 5
    rest = head[4][1]
    assert ops[4] == Opcode.LOAD and rest["local_addr"] == first["init_addr"] + 2
    # no weight LOAD of the second chunk's input chunk 0 rows of its own
    loads = [f for op, f in map(decode, prog.descriptors) if op == Opcode.LOAD]
    assert not any(f["local_addr"] == second["w_addr"] and not f["local_cols"] for f in loads)


@pytest.mark.parametrize("shape", [(1, 12, 12, 64), (1, 25, 5, 24)])
def test_no_first_pair_copy_with_two_parts_or_fewer_chunks(shape):
    """Three output chunks a group (MobileNetV1-0.25's 12x12x64 -> 64) or too few input
    chunks: the first weights one LOAD per chunk, as before."""
    prog, _, _ = _program("int8", shape, 64, (1, 1))
    first_loads = [f for op, f in map(decode, prog.descriptors[:4]) if op == Opcode.LOAD]
    assert not any(f.get("local_groups") for f in first_loads)


def test_the_first_pair_copy_stays_bit_exact():
    prog, x, want = _program("int8", SHAPE, 64, (1, 1), seed=5)
    model = NpuModel(CONFIG)
    model.set_window(MAIN.base, MAIN.size)
    got = run_on_model(model, prog, [(ADDRS[0], x)])
    assert np.array_equal(got.reshape(want.shape).view(np.uint8), want.view(np.uint8))
