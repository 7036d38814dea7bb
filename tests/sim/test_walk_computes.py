"""The walk engine's COMPUTE order (sim/walk_computes.py): the last unit's two waves of a 1x1
layer interleaved (WalkComputes.tail_interleave) and the first unit's head with the first pair
copy (WalkComputes.first_pair_applies), checked on DS-CNN's pointwise shape; the FP16 first
wave that also computes the second unit's chunk (WalkCmds.fp16_joint_rows)."""

import numpy as np
import pytest
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim.golden_tflite_fp16 import conv2d_fp16
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


@pytest.mark.parametrize("x_shape, cout, wmode, jh", [
    ((1, 32, 32, 16), 16, "resident", 2),     # ResNet-8 stage 1
    ((1, 16, 16, 32), 32, "double", 4),       # ResNet-8 stage 2
    ((1, 16, 16, 20), 24, "resident", 4),     # partial input and output chunks
])
def test_an_fp16_first_wave_also_computes_the_second_units_chunk(x_shape, cout, wmode, jh):
    """FP16 (WalkCmds.fp16_joint_rows): the first unit's first wave (jh output rows) goes
    (tap, input chunk) by (tap, input chunk), its own chunk's COMPUTE then the second unit's
    (same A rows, the second unit's weights and ACC half), each chain's first from its
    chunk's starting-value row; the second unit then computes its other rows only. Per ACC
    row the (tap, input chunk) order is the golden one."""
    prog, _, _ = _program("fp16", x_shape, cout, (3, 3))
    plan = prog.plan
    assert plan.wmode == wmode and plan.gn == 1
    comps = [f for op, f in map(decode, prog.descriptors) if op == Opcode.COMPUTE]
    ow, cc = x_shape[2], -(-x_shape[3] // 8)
    steps = 9 * cc
    wave = comps[:2 * steps]
    own, other = wave[0::2], wave[1::2]
    assert all(f["m"] == jh * ow for f in wave)
    assert [f["a_addr"] for f in own] == [f["a_addr"] for f in other]
    assert {f["acc_addr"] for f in own} == {0}
    assert {f["acc_addr"] for f in other} == {plan.acc_half}
    for chain in (own, other):
        assert [f["init_row"] for f in chain] == [1] + [0] * (steps - 1)
        assert [f["accumulate"] for f in chain] == [0] + [1] * (steps - 1)
        # taps outermost, then input chunks: the weight rows rise through the unit's slot
        assert [f["w_addr"] for f in chain] == sorted(f["w_addr"] for f in chain)
    assert own[0]["w_addr"] != other[0]["w_addr"]
    # the second unit's own COMPUTEs: its rows from jh on, its chain from the bias row
    second = [f for f in comps[2 * steps:] if f["acc_addr"] >= plan.acc_half]
    rest = second[:steps]
    assert {f["acc_addr"] for f in rest} == {plan.acc_half + jh * ow}
    assert all(f["m"] == (plan.bh - jh) * ow for f in rest)
    assert rest[0]["init_row"] == 1 and not any(f["init_row"] for f in rest[1:])


def test_int8_and_single_unit_pairs_take_no_fp16_joint_wave():
    """INT8 keeps its own first unit (input chunks outermost), and an FP16 layer of two units
    (the second also the last) has no joint wave: their first COMPUTEs write one ACC half."""
    for precision, x_shape, cout in (("int8", (1, 32, 32, 16), 16),
                                     ("fp16", (1, 16, 16, 16), 16)):
        prog, _, _ = _program(precision, x_shape, cout, (3, 3))
        comps = [f for op, f in map(decode, prog.descriptors) if op == Opcode.COMPUTE]
        assert comps[1]["acc_addr"] < prog.plan.acc_half, precision


@pytest.mark.parametrize("x_shape, cout", [
    ((1, 16, 16, 16), 32),                   # resident, 4 units
    ((1, 16, 16, 32), 32),                   # double
    ((1, 16, 16, 20), 24),                   # partial input and output chunks
    ((2, 16, 16, 16), 16),                   # batch 2
])
def test_the_fp16_joint_wave_stays_bit_exact(x_shape, cout):
    """Random operands with FP16 specials (Inf, NaN, subnormals, -0) through the joint first
    wave, bit for bit against the golden model (sequential (tap, cin) order per output)."""
    prog, x, _ = _program("fp16", x_shape, cout, (3, 3), seed=7)
    rng = np.random.default_rng(7)                 # _program's operands, drawn again
    x = rng.standard_normal(x_shape).astype(np.float16)
    w = (rng.standard_normal((cout, 3, 3, x_shape[3])) / 8).astype(np.float16)
    bias = rng.standard_normal(cout).astype(np.float32)
    flat = x.reshape(-1)
    idx = np.random.default_rng(8).choice(flat.size, 24, replace=False)
    flat[idx[:6]] = np.float16(np.inf)
    flat[idx[6:9]] = np.float16(-np.inf)
    flat[idx[9:12]] = np.float16(np.nan)
    flat[idx[12:18]] = np.float16(6e-8)
    flat[idx[18:]] = np.float16(-0.0)
    model = NpuModel(CONFIG)
    model.set_window(MAIN.base, MAIN.size)
    got = run_on_model(model, prog, [(ADDRS[0], x)])
    want = conv2d_fp16(x, w, bias, stride=(1, 1), padding="SAME")
    assert np.isnan(want).any() and np.isinf(want).any()
    assert np.array_equal(got.reshape(want.shape).view(np.uint16), want.view(np.uint16))


@pytest.mark.parametrize("x_shape, cout, waves", [
    ((1, 32, 32, 16), 16, (2, 2, 4)),          # ResNet-8 stage 1 (the first wave joint)
    ((1, 16, 16, 32), 32, (4, 4, 4, 4)),       # stage 2 (even waves)
])
def test_an_fp16_first_units_later_waves_images_go_ahead_by_their_bytes(x_shape, cout,
                                                                          waves):
    """WalkComputes.wave_ahead_slots: with 4+ input chunks (stage 2) an image LOAD of the
    first unit's second wave or later goes ahead of its first use by the COMPUTEs whose rows
    cover its wave's image bytes so far at BYTES_PER_CYCLE, plus WALK_JIT_LEAD; with fewer
    (stage 1) the third wave's and later go halfway through the wave before; either or
    JIT_LEAD * 2 ahead, whichever is earlier; the first wave's stay JIT_LEAD * 2 ahead."""
    from dure.rtl.npu.commands import LoadTarget

    from dure.gemm_cost import BYTES_PER_CYCLE, WALK_FP16_EVEN_WAVE_CHUNKS, WALK_JIT_LEAD
    prog, _, _ = _program("fp16", x_shape, cout, (3, 3))
    ds = [decode(w) for w in prog.descriptors]
    comps = [f for op, f in ds if op == Opcode.COMPUTE]
    ow, cc = x_shape[2], x_shape[3] // 8
    starts = [0, 2 * 9 * cc]                    # the joint first wave: two chunks
    for _ in waves[1:]:
        starts.append(starts[-1] + 9 * cc)
    ahead, loads = 0, []
    for op, f in ds:
        if op == Opcode.COMPUTE:
            ahead += 1
            if ahead > starts[-1]:
                break                           # the first unit's end
            continue
        if op != Opcode.LOAD or f["fill"] or f["target"] != LoadTarget.SPAD.value or \
                f["local_addr"] < prog.plan.w_rows:
            continue
        at, end = f["local_addr"], f["local_addr"] + f["rows"]
        if f["local_groups"]:
            end = at + (f["local_groups"] - 1) * f["local_row_step"] + f["local_cols"]
        use = next(i for i, c in enumerate(comps) if c["a_addr"] < end and at < c["a_addr"]
                   + (c["a_rows"] - 1) * c["a_row_step"] + c["a_cols"])
        loads.append((at, ahead, use, f["rows"] * f["cols"] * 2))
    # a wave's bytes so far in the LOADs' own order: input chunk by input chunk (their SPAD
    # regions rise with the chunk)
    cum, checked = {}, 0
    for _, ahead, use, nbytes in sorted(loads):
        w = max(k for k, st in enumerate(starts) if st <= use)
        want = use - 2 * WALK_JIT_LEAD
        if w >= 1 and cc >= WALK_FP16_EVEN_WAVE_CHUNKS:
            cum[w] = cum.get(w, 0) + nbytes
            port = BYTES_PER_CYCLE * waves[w] * ow
            want = min(want, use - WALK_JIT_LEAD - -(-cum[w] // port))
            checked += 1
        elif w >= 1:
            # fewer input chunks: the third wave's and later halfway through the wave before
            cum[w] = cum.get(w, 0) + nbytes
            if w >= 2:
                want = min(want, starts[w - 1] + (starts[w] - starts[w - 1]) // 2)
            checked += 1
        if use > 0:
            assert ahead == max(0, want) + 1, (w, use, ahead)
    assert checked == (len(waves) - 1) * cc
    assert sorted(cum) == list(range(1, len(waves)))
