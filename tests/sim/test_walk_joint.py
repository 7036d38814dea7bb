"""The joint first wave (sim/walk_cmds.py ``joint_first``, sim/walk_computes.py
``joint_computes``): an INT8 convolution whose first unit is one output chunk of one wave
(ResNet-8 stage 3) also computes the second unit's input chunk 0, in two parts of its output
rows, so its first COMPUTE waits for the image rows of half the rows (docs/layer_fixed_cost.md,
session 20)."""

import numpy as np
import pytest
from dure.rtl.npu.commands import LoadTarget, Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel

from .test_walk_emit import ADDRS, CONFIG, MAIN, _program


def _computes(prog):
    ds = [decode(w) for w in prog.descriptors]
    return ds, [f for op, f in ds if op == Opcode.COMPUTE]


def test_the_first_unit_takes_input_chunk_0_of_two_output_chunks_in_two_parts():
    """ResNet-8 stage 3 (8x8x64 -> 64, one output chunk per unit, ``double``): the first 12
    COMPUTEs are input chunk 0's taps of the window's first row (1, 0, 2) for output chunks
    0 and 1 (ACC halves 0 and 1; both chunks' weights of a tap side by side in the second
    unit's slot, chunk 1's at its own rows, chunk 0's after them), each tap in two parts of 4 output
    rows (32 pixels), each part's chunks together; each ACC row's first COMPUTE starts from
    its chunk's starting-value row. Then the first unit's usual COMPUTEs (64 rows) without
    those taps of input chunk 0, and the second unit's without them either."""
    prog, _, _ = _program("int8", (1, 8, 8, 64), 64, (3, 3))
    plan = prog.plan
    assert (plan.wmode, plan.gn, plan.bh) == ("double", 1, 8)
    _, comps = _computes(prog)
    joint = comps[:12]
    assert all(f["m"] == 32 and f["k"] == 8 for f in joint)
    assert [f["acc_addr"] >= plan.acc_half for f in joint] == [False, True] * 6
    # weights: in output chunk 1's slot (576..), its input chunk 0's rows, chunk 0's after them
    assert [f["w_addr"] // plan.slot for f in joint] == [1] * 12
    assert [f["w_addr"] % 64 for f in joint] == [8, 0] * 6
    assert [f["w_addr"] % plan.slot // 64 for f in joint[::2]] == [1, 1, 0, 0, 2, 2]
    assert [f["acc_addr"] % plan.acc_half for f in joint[::2]] == [0, 32] * 3
    inits = [(f["acc_addr"], f["init_addr"]) for f in joint if f["init_row"]]
    row0 = min(r for _, r in inits)           # output chunk 0's starting-value row
    assert sorted((a, r - row0) for a, r in inits) == [(0, 0), (32, 0), (64, 1), (96, 1)]
    assert [f["accumulate"] for f in joint] == [0] * 4 + [1] * 8
    # the rest of the first unit: 6 taps of input chunk 0, 9 of chunks 1..7, 64 rows each
    unit0 = [f for f in comps[12:] if f["acc_addr"] < plan.acc_half][:69]
    assert all(f["m"] == 64 and f["accumulate"] and not f["init_row"] for f in unit0)
    assert sorted(f["w_addr"] // 64 for f in unit0[:6]) == [3, 4, 5, 6, 7, 8]
    # the second unit (ACC half 1, after the first unit): 6 + 63 COMPUTEs, none from a
    # starting value, none of input chunk 0's first kernel row
    second = comps[12 + 69:12 + 69 + 69]
    assert all(f["acc_addr"] >= plan.acc_half for f in second)
    assert all(f["accumulate"] and not f["init_row"] for f in second)
    assert not any(f["w_addr"] % 64 == 0 and f["w_addr"] % plan.slot < 3 * 64 for f in second)
    assert comps[12 + 69 + 69]["acc_addr"] < plan.acc_half        # the third unit's


def test_the_first_compute_waits_for_three_image_rows():
    """Ahead of the first COMPUTE: its top FILL, one LOAD of both output chunks' tap 1
    weights of input chunk 0 (16 rows from WalkLayer.joint_weights), the starting values of
    both output chunks (2 ACC rows) and image rows 0-2 only (24 pixels: its 32 rows read no
    more); then the second chunk's COMPUTE of the same rows, with no LOAD between."""
    prog, _, _ = _program("int8", (1, 8, 8, 64), 64, (3, 3))
    ds, _ = _computes(prog)
    first = next(i for i, (op, _) in enumerate(ds) if op == Opcode.COMPUTE)
    head = ds[:first]
    acc = [f for op, f in head if f["target"] == LoadTarget.ACC.value]
    assert [f["rows"] for f in acc] == [2]
    image = [f for op, f in head if f["target"] == LoadTarget.SPAD.value and not f["fill"]
             and f["local_addr"] >= prog.plan.w_rows]
    assert [f["rows"] for f in image] == [24]
    weights = [f for op, f in head if f["target"] == LoadTarget.SPAD.value and not f["fill"]
               and f["local_addr"] < prog.plan.w_rows]
    assert [(f["rows"], f["local_addr"], f["local_groups"]) for f in weights] == \
        [(16, prog.plan.slot + 64, 0)]
    op, f = ds[first + 1]
    assert op == Opcode.COMPUTE and f["a_addr"] == ds[first][1]["a_addr"]


def test_the_second_units_side_weights_leave_input_chunk_0_out():
    """The first unit's LOADs into the second unit's weight slot: input chunk 0's rows of
    taps 0, 1, 2 (16 rows each: the second unit's own 8, then the first unit's), then per tap
    the rest (56 rows of taps 0-2, all 64 of taps 3-8)."""
    prog, _, _ = _program("int8", (1, 8, 8, 64), 64, (3, 3))
    plan = prog.plan
    ds, _ = _computes(prog)
    slot1 = [f for op, f in ds if op == Opcode.LOAD and f["target"] == LoadTarget.SPAD.value
             and not f["fill"] and plan.slot <= f["local_addr"] < 2 * plan.slot]
    assert sorted((f["local_addr"] - plan.slot, f["rows"]) for f in slot1[:12]) == \
        sorted([(t * 64, 16) for t in range(3)] + [(t * 64 + 8, 56) for t in range(3)] +
               [(t * 64, 64) for t in range(3, 9)])


def test_the_joint_copy_holds_both_chunks_rows_of_each_tap():
    """The joint LOADs read the joint copy (WalkLayer.joint_weights): per tap of the window's
    first row, output chunk 1's then chunk 0's weights of input chunk 0 (8 x 8 INT8 each,
    matrix row ci, column o: w[o, 0, kx, ci]); no pair LOAD (two groups) is left."""
    prog, _, _ = _program("int8", (1, 8, 8, 64), 64, (3, 3))
    rng = np.random.default_rng(0)                  # _program's operands, seed 0
    rng.integers(-128, 128, (1, 8, 8, 64), dtype=np.int8)
    w = rng.integers(-128, 128, (64, 3, 3, 64), dtype=np.int8)
    plan = prog.plan
    loads = [f for op, f in (decode(x) for x in prog.descriptors)
             if op == Opcode.LOAD and f["target"] == LoadTarget.SPAD.value and not f["fill"]]
    assert not any(f["local_groups"] == 2 and f["local_addr"] < plan.w_rows for f in loads)
    joint = sorted((f["local_addr"], f["dram_addr"]) for f in loads
                   if f["rows"] == 16 and plan.slot <= f["local_addr"] < 2 * plan.slot)
    assert [a - plan.slot for a, _ in joint] == [0, 64, 128]
    mem = {}
    for addr, data in prog.blobs:
        for i, byte in enumerate(data):
            mem[addr + i] = byte
    for kx, (_, addr) in enumerate(joint):
        got = np.array([mem[addr + i] for i in range(128)], np.uint8).view(np.int8)
        want = np.concatenate([w[8:16, 0, kx, 0:8].T, w[0:8, 0, kx, 0:8].T])
        assert np.array_equal(got.reshape(16, 8), want)


@pytest.mark.parametrize("x_shape, cout, kernel", [
    ((1, 8, 8, 64), 64, (3, 3)),
    ((1, 8, 8, 60), 40, (3, 3)),        # partial input and output chunks
    ((2, 8, 8, 64), 64, (3, 3)),        # batch 2
    ((1, 8, 8, 64), 128, (1, 3)),
])
def test_the_joint_first_wave_is_exact(x_shape, cout, kernel):
    """Bit-exact with the TFLite golden model on the command model."""
    prog, x, want = _program("int8", x_shape, cout, kernel, seed=3)
    assert _computes(prog)[1][0]["m"] == 4 * x_shape[2]          # the joint wave's part
    model = NpuModel(CONFIG)
    model.set_window(MAIN.base, MAIN.size)
    got = run_on_model(model, prog, [(ADDRS[0], x)])
    assert np.array_equal(got.reshape(want.shape).view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("precision, x_shape, cout", [
    ("int8", (1, 16, 16, 32), 32),      # ResNet-8 stage 2: a first unit of several waves
    ("int8", (1, 32, 32, 16), 16),      # stage 1: ``resident``
    ("fp16", (1, 8, 8, 64), 64),        # FP16 keeps the taps outermost
])
def test_no_joint_first_wave_elsewhere(precision, x_shape, cout):
    """Without it the first unit's first two COMPUTEs both write its own ACC half."""
    prog, _, _ = _program(precision, x_shape, cout, (3, 3))
    comps = _computes(prog)[1]
    assert all(f["acc_addr"] < prog.plan.acc_half for f in comps[:2])
