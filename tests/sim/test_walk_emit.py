"""The walk engine's descriptor stream (sim/walk_emit.py): how the first unit's own LOADs are
cut and where they go, so the in-order LOAD unit takes them in the order its COMPUTEs need
them (the layer's fixed cost, docs/layer_fixed_cost.md)."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import LoadTarget, Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim.conv_plan import conv2d_fp16_program, conv2d_int8_program
from dure.sim.golden_tflite import conv2d_int8
from dure.sim.golden_tflite_fp16 import conv2d_fp16
from dure.sim.golden_tflite_params import conv_multipliers
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel

from dure.config import preset
from dure.gemm_cost import WALK_JIT_LEAD

CONFIG = preset("sim")
MAIN = CONFIG.region("main")
ADDRS = MAIN.base, MAIN.base + MAIN.size // 4, MAIN.base + MAIN.size // 2


def _program(precision, x_shape, cout, kernel, seed=0, config=None, listed=False):
    """``(program, x, want)`` of a SAME stride-1 convolution (on ``config``, default
    CONFIG; INT8 ``listed``: planned to run as one LIST)."""
    config = config or CONFIG
    rng = np.random.default_rng(seed)
    wshape = (cout, *kernel, x_shape[3])
    where = dict(x_addr=ADDRS[0], out_addr=ADDRS[1], param_addr=ADDRS[2])
    if precision == "int8":
        x = rng.integers(-128, 128, x_shape, dtype=np.int8)
        w = rng.integers(-128, 128, wshape, dtype=np.int8)
        bias = rng.integers(-20000, 20000, cout, dtype=np.int32)
        fan = kernel[0] * kernel[1] * x_shape[3]
        mult, shift = conv_multipliers(0.05, rng.uniform(0.5, 2.0, cout) * 0.02 / np.sqrt(fan),
                                       0.4, cout)
        kw = dict(input_zero_point=-3, output_zero_point=2, multiplier=mult, shift=shift,
                  stride=(1, 1), padding="SAME")
        return (conv2d_int8_program(config, x_shape, w, bias, **where, **kw, listed=listed),
                x, conv2d_int8(x, w, bias, **kw))
    x = rng.standard_normal(x_shape).astype(np.float16)
    w = (rng.standard_normal(wshape) / 8).astype(np.float16)
    bias = rng.standard_normal(cout).astype(np.float32)
    kw = dict(stride=(1, 1), padding="SAME")
    return conv2d_fp16_program(config, x_shape, w, bias, **where, **kw), x, \
        conv2d_fp16(x, w, bias, **kw)


def _first_unit(prog):
    """``(descriptors, first unit's COMPUTE indices)`` (the COMPUTEs before the first
    COMPUTE that writes the second ACC half, i.e. of unit 0; with the FP16 joint first wave,
    WalkCmds.fp16_joint_rows, after the wave's COMPUTEs, which alternate between the
    halves)."""
    ds = [decode(w) for w in prog.descriptors]
    comps = [i for i, (op, _) in enumerate(ds) if op == Opcode.COMPUTE]
    half1 = [ds[i][1]["acc_addr"] >= prog.plan.acc_half for i in comps]
    k = 0
    while k + 1 < len(comps) and not half1[k] and half1[k + 1]:
        k += 2
    end = next(i for i in range(k, len(comps)) if half1[i])
    return ds, comps[:end]


def _weight_loads(ds, plan):
    return [(i, f) for i, (op, f) in enumerate(ds) if op == Opcode.LOAD and not f["fill"]
            and f["target"] == LoadTarget.SPAD.value and f["local_addr"] < plan.w_rows]


def test_the_first_units_weights_come_one_load_per_tap():
    """ResNet-8 stage 1 in FP16 (32x32x16 -> 16, 3x3, ``resident``): every weight LOAD holds
    one tap's rows of one output chunk (16 input channels), 9 x 2 LOADs in all."""
    prog, _, _ = _program("fp16", (1, 32, 32, 16), 16, (3, 3))
    assert prog.plan.wmode == "resident"
    loads = _weight_loads([decode(w) for w in prog.descriptors], prog.plan)
    assert [f["rows"] for _, f in loads] == [16] * 18
    assert sorted(f["local_addr"] for _, f in loads) == list(range(0, 288, 16))


def test_an_int8_first_unit_takes_its_input_chunks_outermost():
    """ResNet-8 stage 1 in INT8: the first unit (output chunk 0) runs input chunk 0's nine
    taps, then chunk 1's (its weights one LOAD of 8 rows per chunk and tap, but taps 0 and 1
    of chunk 0 in one LOAD of their contiguous copy, placed in two groups of 8 rows 16 apart:
    17 LOADs); the other output chunk's weights come one LOAD per tap (9 of 16 rows); the
    second unit keeps the taps outermost."""
    prog, _, _ = _program("int8", (1, 32, 32, 16), 16, (3, 3))
    plan = prog.plan
    ds, comps = _first_unit(prog)
    region = 10 * 34                             # SPAD rows of one input chunk's tile
    chunk = [(ds[i][1]["a_addr"] - plan.w_rows) // region for i in comps]
    waves = [chunk[k:k + 18] for k in range(0, len(chunk), 18)]
    assert all(wv == [0] * 9 + [1] * 9 for wv in waves)
    assert [ds[i][1]["w_addr"] for i in comps[:9]] == list(range(0, 144, 16))
    loads = _weight_loads(ds, plan)
    rows = sorted((f["local_addr"], f["rows"]) for _, f in loads)
    assert rows == [(0, 16)] + [(r, 8) for r in range(8, 144, 8) if r != 16] + \
        [(r, 16) for r in range(144, 288, 16)]
    pair = [f for _, f in loads if f["local_groups"]]
    assert [(f["local_addr"], f["local_cols"], f["local_groups"], f["local_row_step"])
            for f in pair] == [(0, 8, 2, 16)]
    second = [i for i, (op, f) in enumerate(ds) if op == Opcode.COMPUTE and
              plan.acc_half <= f["acc_addr"] < 2 * plan.acc_half][:4]
    assert [(ds[i][1]["a_addr"] - plan.w_rows) // region for i in second] == [0, 1, 0, 1]


@pytest.mark.parametrize("precision,lead", [("int8", WALK_JIT_LEAD),
                                            ("fp16", 2 * WALK_JIT_LEAD)])
def test_a_taps_weights_go_lead_computes_ahead_of_its_first_use(precision, lead):
    """A weight LOAD of the first unit (FP16: taps 1..8 of its chunk and, with the joint
    first wave, taps 0..8 of the second unit's; INT8: each (input chunk, tap) but the first
    two, which come in one LOAD up front) goes right after COMPUTE
    ``use - lead`` of the unit (``use``: the first COMPUTE that reads it): ``lead`` is
    JIT_LEAD per element byte (2 INT8, 4 FP16)."""
    prog, _, _ = _program(precision, (1, 32, 32, 16), 16, (3, 3))
    ds, comps = _first_unit(prog)
    checked = 0
    for i, f in _weight_loads(ds, prog.plan):
        rows = range(f["local_addr"], f["local_addr"] + f["rows"])
        users = [c for c in comps if ds[c][1]["w_addr"] in rows]
        if not users or users[0] == comps[0]:
            continue                 # another chunk's weights / the first COMPUTE's (up front)
        use = comps.index(users[0])
        ahead = sum(1 for c in comps if c < i)
        assert ahead == max(0, use - lead) + 1, (f["local_addr"], ahead, use)
        checked += 1
    assert checked == (8 + 9 if precision == "fp16" else 16)


def test_the_first_waves_image_rows_come_one_load_per_tap_row():
    """The first wave (2 output rows of ResNet-8 stage 1) reads image rows 0, 1, 2 with its
    tap rows ky = 0, 1, 2: each comes in its own LOAD per input chunk, in that order."""
    prog, _, _ = _program("fp16", (1, 32, 32, 16), 16, (3, 3))
    plan = prog.plan
    ds = [decode(w) for w in prog.descriptors]
    tiles = [f for op, f in ds if op == Opcode.LOAD and not f["fill"] and
             f["target"] == LoadTarget.SPAD.value and plan.w_rows <= f["local_addr"] <
             plan.w_rows + plan.tile_rows]
    wp = 34
    for c in range(2):                                   # input chunk c's region
        base = plan.w_rows + c * 10 * wp
        mine = [f for f in tiles if base <= f["local_addr"] < base + 10 * wp]
        # padded rows 1, 2, 3 (image rows 0, 1, 2) one LOAD each, then the rest
        firsts = [(f["local_addr"] - base) // wp for f in mine]
        assert firsts[:3] == [1, 2, 3]
        assert [f["rows"] for f in mine[:3]] == [32, 32, 32]


@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_no_side_fill_goes_ahead_of_the_first_compute(precision):
    """ResNet-8 stage 1: ahead of the first COMPUTE (tap (0, 0)) only its bias rows, its
    weights (in INT8, with the pair LOAD, ahead of the bias rows, and with row-exact hazards
    the top FILL ahead of both, session 19), the top FILL (padded row 0 and row 1's left
    column: 35 SPAD rows) and image row 0; tile buffer 0's side FILL (a
    row's right column and the next row's left one) starts at padded row 1's right column,
    outside the first COMPUTE's A range, and goes after it."""
    prog, _, _ = _program(precision, (1, 32, 32, 16), 16, (3, 3))
    plan, wp = prog.plan, 34
    ds = [decode(w) for w in prog.descriptors]
    first = next(i for i, (op, _) in enumerate(ds) if op == Opcode.COMPUTE)
    ahead = [f for _, f in ds[:first]]
    acc, spad = LoadTarget.ACC.value, LoadTarget.SPAD.value
    top, weights, bias = (0, 1, 2) if precision == "int8" else (2, 1, 0)
    assert [f["target"] for f in ahead] == \
        ([spad, spad, acc] if precision == "int8" else [acc, spad, spad]) + [spad]
    assert ahead[weights]["local_addr"] < plan.w_rows
    assert ahead[bias]["local_addr"] == ds[first][1]["init_addr"]
    assert (ahead[top]["fill"], ahead[top]["local_addr"], ahead[top]["rows"]) == \
        (1, plan.w_rows, wp + 1)
    assert (ahead[3]["fill"], ahead[3]["local_addr"]) == (0, plan.w_rows + wp + 1)
    a = ds[first][1]["a_addr"]
    a_end = a + wp + 32
    sides = [(i, f) for i, (op, f) in enumerate(ds) if op == Opcode.LOAD and f["fill"] and
             f["local_groups"] > 1 and plan.w_rows <= f["local_addr"] <
             plan.w_rows + plan.tile_rows]
    i, side = sides[0]
    assert i > first
    assert side["local_addr"] == plan.w_rows + wp + 33 >= a_end
    assert side["local_cols"] == 2 and side["local_row_step"] == wp


@pytest.mark.parametrize("row_hazard", [False, True], ids=["ranges", "rows"])
def test_only_the_side_columns_the_first_compute_reads_go_ahead_of_it(row_hazard):
    """ResNet-8 stage 2 in INT8 (16 wide: the first COMPUTE, 4 output rows of tap (0, 0), reads
    the SPAD range of padded rows 0-3): tile buffer 0's side FILL is cut where that range ends:
    its groups of rows 1 and 2 (a row's right column, the next row's left one) in a FILL ahead
    of the first COMPUTE, the groups from row 3 on in one after it; together every row below
    the top padding once. With ``npu_row_hazard`` (session 19) the first COMPUTE is tap (0, 1),
    which reads none of those columns: the first FILL goes right after it, ahead of tap (0,
    0)'s, which comes next, and the second after that."""
    config = dataclasses.replace(CONFIG, npu_row_hazard=row_hazard)
    prog, _, _ = _program("int8", (1, 16, 16, 32), 32, (3, 3), config=config)
    plan, wp = prog.plan, 18
    ds = [decode(w) for w in prog.descriptors]
    comps = [i for i, (op, _) in enumerate(ds) if op == Opcode.COMPUTE]
    first = comps[0]
    a = ds[first][1]["a_addr"]
    assert a == plan.w_rows + row_hazard and ds[first][1]["a_rows"] == 4
    a_end = plan.w_rows + 3 * wp + 16
    sides = [(i, f) for i, (op, f) in enumerate(ds) if op == Opcode.LOAD and f["fill"] and
             f["local_groups"] > 1 and plan.w_rows <= f["local_addr"] < plan.w_rows + wp * 20]
    (i0, ahead), (i1, after) = sides[:2]
    if row_hazard:
        assert first + 1 == i0 == comps[1] - 1 and ds[comps[1]][1]["a_addr"] == plan.w_rows
        assert comps[1] < i1
    else:
        assert i0 < first < i1
    assert (ahead["local_addr"], ahead["local_groups"]) == (plan.w_rows + wp + 17, 2)
    assert after["local_addr"] == plan.w_rows + 3 * wp + 17 >= a_end
    assert ahead["local_addr"] + (ahead["local_groups"] - 1) * wp < a_end


@pytest.mark.parametrize("precision, split", [("int8", True), ("fp16", False)])
def test_only_the_first_units_bias_rows_go_first(precision, split):
    """ResNet-8 stage 3 (8x8x64 -> 64: 8 output chunks): in INT8 (input chunks outermost in
    the first unit) the first ACC LOAD, right after the first COMPUTE's weights (one LOAD of
    tap 1's rows of both joint output chunks, WalkLayer.joint_weights), holds the first
    unit's output chunks' starting-value rows only; the other chunks' rows come in one LOAD
    after the first COMPUTE, before the first COMPUTE of the unit that starts from them.
    FP16 keeps one LOAD of all eight rows first."""
    prog, _, _ = _program(precision, (1, 8, 8, 64), 64, (3, 3))
    ds = [decode(w) for w in prog.descriptors]
    comps = [i for i, (op, _) in enumerate(ds) if op == Opcode.COMPUTE]
    inits = {ds[i][1]["init_addr"]: i for i in reversed(comps) if ds[i][1]["init_row"]}
    acc = [(i, f) for i, (op, f) in enumerate(ds) if op == Opcode.LOAD and
           f["target"] == LoadTarget.ACC.value and f["local_addr"] in inits]
    first_unit_rows = sorted({ds[i][1]["init_addr"] for i in comps[:4] if ds[i][1]["init_row"]})
    # INT8 (row-exact hazards, session 19): the top FILL, the joint LOAD, then the rows
    assert acc[0][0] == (2 if split else 0)
    if split:                                    # the joint LOAD: 16 rows, one group
        assert ds[0][1]["fill"] and ds[1][0] == Opcode.LOAD and ds[1][1]["rows"] == 16 and \
            ds[1][1]["local_groups"] == 0
    if not split:
        assert len(acc) == 1 and acc[0][1]["rows"] == 8
        return
    (i0, f0), (i1, f1) = acc
    assert f0["rows"] == len(first_unit_rows) < 8
    assert f1["local_addr"] == f0["local_addr"] + f0["rows"] and f0["rows"] + f1["rows"] == 8
    assert comps[0] < i1 < min(i for a, i in inits.items() if a >= f1["local_addr"])


@pytest.mark.parametrize("precision", ["int8", "fp16"])
@pytest.mark.parametrize("x_shape", [(1, 14, 11, 16), (2, 9, 7, 16)])
def test_the_stream_stays_bit_exact(precision, x_shape):
    """A layer of several blocks and groups in this order (and of two images, whose second
    image's first block has top padding in the other tile buffer), on the command model."""
    prog, x, want = _program(precision, x_shape, 24, (3, 3), seed=2)
    model = NpuModel(CONFIG)
    model.set_window(MAIN.base, MAIN.size)
    got = run_on_model(model, prog, [(ADDRS[0], x)])
    assert np.array_equal(got.reshape(want.shape).view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("x_shape, cout", [((1, 16, 16, 32), 32), ((1, 32, 32, 16), 16)])
def test_as_one_list_the_bias_rows_go_ahead_of_the_weights(x_shape, cout):
    """ResNet-8 stages 2 and 1 INT8 (the pair LOAD, row-exact hazards): pushed, the head is
    the top FILL, the first COMPUTE's weights, then its starting-value rows; planned to run as
    one LIST (``listed``) the FILL, the starting-value rows, then the weights (no push pacing:
    the LIST's fetch is ahead of them all). Only those two swap places; the stream stays
    bit-exact on the command model."""
    pushed, x, want = _program("int8", x_shape, cout, (3, 3))
    listed, _, _ = _program("int8", x_shape, cout, (3, 3), listed=True)
    a = [decode(w) for w in pushed.descriptors]
    b = [decode(w) for w in listed.descriptors]
    assert a[0][1]["fill"] and b[0][1]["fill"]
    spad, acc = LoadTarget.SPAD.value, LoadTarget.ACC.value
    assert [(op, f["target"]) for op, f in a[1:3]] == [(Opcode.LOAD, spad), (Opcode.LOAD, acc)]
    assert [(op, f["target"]) for op, f in b[1:3]] == [(Opcode.LOAD, acc), (Opcode.LOAD, spad)]
    w = [list(d) for d in pushed.descriptors]
    assert [list(d) for d in listed.descriptors] == w[:1] + [w[2], w[1]] + w[3:]
    model = NpuModel(CONFIG)
    model.set_window(MAIN.base, MAIN.size)
    got = run_on_model(model, listed, [(ADDRS[0], x)])
    assert np.array_equal(got.reshape(want.shape).view(np.uint8), want.view(np.uint8))

