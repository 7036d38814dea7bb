# amaranth: UnusedElaboratable=no
"""The element-wise unit inside the whole NPU (control + datapath) on Amaranth's simulator,
against the command model: planned MAX_POOL (INT8, FP16 with NaN / Inf / subnormal / signed
zeros), INT8 ADD layers, INT8 and FP16 depthwise and INT8 global pooling on the MAC, then a
random mix of ELTWISE commands (walks, accumulate, MAC with and without reduce, FP16 MACs with
specials, lane counts, malformed ones)
with LOADs, COMPUTEs (the structural hazard) and STOREs: final memory, ERROR and DONE equal the
model's; some also with ``npu_load_follow``. The ADD layer and one random mix also run
with ``npu_eltwise_pipeline`` (the ADD's three rescaling stages); the ADD layer, the MAC's
depthwise and reduce layers and two random mixes with ``npu_eltwise_operand_regs`` (the
operand register stage before the lanes; one mix with both, the ULX3S's combination)."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import (
    ElemType,
    EltwiseOp,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
)
from dure.rtl.npu.descriptor import encode
from dure.sim.conv_plan import depthwise_conv2d_int8_program
from dure.sim.eltwise_plan import add_int8_program
from dure.sim.golden_tflite import add_int8, average_pool_int8, depthwise_conv2d_int8, max_pool_int8
from dure.sim.golden_tflite_fp16 import max_pool_fp16
from dure.sim.golden_tflite_params import add_params
from dure.sim.pool_plan import (
    average_pool_int8_program,
    max_pool_fp16_program,
    max_pool_int8_program,
)
from dure.sim.verif.npu_sim import run_against_model

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=128, npu_acc_rows=64, npu_queue_depth=4)
CFG_PIPE = dataclasses.replace(CFG, npu_eltwise_pipeline=True)
CFG_FOLLOW = dataclasses.replace(CFG, npu_load_follow=True)
CFG_OPREGS = dataclasses.replace(CFG, npu_eltwise_operand_regs=True)
CFG_OPREGS_PIPE = dataclasses.replace(CFG_PIPE, npu_eltwise_operand_regs=True)
BASE = 0x4000_0000
SIZE = 0x1000
X, OUT, PARAMS, X2 = BASE, BASE + 0x400, BASE + 0x800, BASE + 0xC00


def run_both(descriptors, image, config=CFG, gnt=0.9):
    """RTL (built with ``config``) and command model on the same image (equal memory, ERROR,
    DONE and PERF_MACS): ``(registers, memory, model)``."""
    return run_against_model(config, descriptors, image, base=BASE, gnt=gnt)


def image_with(*placed):
    image = bytearray(SIZE)
    for addr, array in placed:
        raw = np.ascontiguousarray(array).tobytes()
        image[addr - BASE:addr - BASE + len(raw)] = raw
    return image


def output(mem, prog):
    dtype = np.dtype(prog.out_dtype)
    size = int(np.prod(prog.out_shape)) * dtype.itemsize
    return np.frombuffer(bytes(mem[OUT - BASE:OUT - BASE + size]), dtype) \
        .reshape(prog.out_shape)


def test_max_pool_int8_layer():
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (1, 5, 5, 6), dtype=np.int8)
    x[0, 0, :2] = -128
    kw = dict(stride=2, padding="SAME", lo=-100, hi=120)
    prog = max_pool_int8_program(CFG, x.shape, 3, x_addr=X, out_addr=OUT, param_addr=PARAMS,
                                 **kw)
    image = image_with((X, x), *prog.blobs)
    _, mem, _ = run_both(prog.descriptors, image)
    assert np.array_equal(output(mem, prog), max_pool_int8(x, 3, **kw))


def test_max_pool_fp16_layer_with_specials():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 4, 5, 5)).astype(np.float16)
    flat = x.reshape(-1)
    flat[:9] = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 6e-8, -6e-8, 65504, -0.0],
                        np.float16)
    x[0, 2:, 3:, 4] = -0.0
    x[0, :2, :2, 3] = -np.inf
    kw = dict(stride=1, padding="SAME")
    prog = max_pool_fp16_program(CFG, x.shape, 2, x_addr=X, out_addr=OUT, param_addr=PARAMS,
                                 **kw)
    image = image_with((X, x), *prog.blobs)
    _, mem, _ = run_both(prog.descriptors, image)
    assert np.array_equal(output(mem, prog).view(np.uint16),
                          max_pool_fp16(x, 2, **kw).view(np.uint16))


@pytest.mark.parametrize("config", [CFG, CFG_PIPE, CFG_OPREGS, CFG_OPREGS_PIPE],
                         ids=["one_stage", "pipelined", "operand_regs", "operand_regs_pipelined"])
def test_add_int8_layer(config):
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (2, 3, 3, 5), dtype=np.int8)
    b = rng.integers(-128, 128, (2, 3, 3, 5), dtype=np.int8)
    a.reshape(-1)[:2], b.reshape(-1)[:2] = [-128, 127], [-128, -128]
    params = add_params(0.05, 0.07, 0.02)
    kw = dict(input1_zero_point=-128, input2_zero_point=127, output_zero_point=-5, lo=-128,
              hi=127)
    prog = add_int8_program(CFG, a.shape, params, a_addr=X, b_addr=X2, out_addr=OUT,
                            param_addr=PARAMS, **kw)
    image = image_with((X, a), (X2, b), *prog.blobs)
    _, mem, _ = run_both(prog.descriptors, image, config)
    want = add_int8(a, b, params, **kw)
    assert np.array_equal(output(mem, prog), want)
    assert {-128, 127} <= set(want.reshape(-1).tolist())


@pytest.mark.parametrize(("follow", "opregs"), [(False, False), (True, False), (False, True)],
                         ids=["held", "follow", "operand_regs"])
def test_depthwise_int8_layer_on_the_mac(follow, opregs):
    """INT8 depthwise with every two taps a pair ELTWISE MAC (the last of the 9 alone):
    zero point -128 (padding), stride 2, -128 inputs and weights, more channels than lanes;
    also with ``npu_load_follow`` (the MACs follow their LOADs row by row) and with
    ``npu_eltwise_operand_regs``."""
    config = dataclasses.replace(CFG, npu_load_follow=follow, npu_eltwise_operand_regs=opregs)
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, (1, 5, 4, 6), dtype=np.int8)
    x.reshape(-1)[:5] = -128
    w = rng.integers(-128, 128, (1, 3, 3, 6), dtype=np.int8)
    w[0, 0, 0, :2] = -128
    bias = rng.integers(-3000, 3000, 6, dtype=np.int32)
    mult = rng.integers(1 << 30, 1 << 31, 6).astype(np.int32)
    shift = rng.integers(-9, -6, 6).astype(np.int32)
    kw = dict(input_zero_point=-128, output_zero_point=3, multiplier=mult, shift=shift,
              stride=2, padding="SAME")
    prog = depthwise_conv2d_int8_program(CFG, x.shape, w, bias, x_addr=X, out_addr=OUT,
                                         param_addr=PARAMS, **kw)
    assert any(d[0] & 0xF == Opcode.ELTWISE.value and d[0] >> 7 & 1 and d[0] >> 9 & 1
               for d in prog.descriptors)                       # pair MACs
    image = image_with((X, x), *prog.blobs)
    _, mem, _ = run_both(prog.descriptors, image, config)
    assert np.array_equal(output(mem, prog), depthwise_conv2d_int8(x, w, bias, **kw))


@pytest.mark.parametrize("config", [CFG, CFG_OPREGS], ids=["plain", "operand_regs"])
def test_depthwise_fp16_layer_on_the_mac(config):
    """FP16 depthwise on the FP16 pair MACs (the last of the 9 taps alone): NaN / Inf /
    signed zeros / subnormals / 65504 inputs, a -0.0 bias, stride 2, more channels than
    lanes; and the order check of tests/sim/test_conv_plan.py (1 + 2**25 - 2**25 = 0); also
    with ``npu_eltwise_operand_regs`` (the FP16 lanes take the registered operands)."""
    from dure.sim.conv_plan import depthwise_conv2d_fp16_program
    from dure.sim.golden_tflite_fp16 import depthwise_conv2d_fp16

    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 5, 4, 6)).astype(np.float16)
    x.reshape(-1)[:9] = np.array([np.nan, np.inf, -np.inf, -0.0, 6e-8, -6e-8, 65504, 0.0,
                                  -65504], np.float16)
    x[0, 3, :, 1] = 4096
    w = rng.standard_normal((1, 3, 3, 6)).astype(np.float16)
    w[0, 2, 0, 1], w[0, 2, 1, 1] = 8192, -8192
    bias = rng.standard_normal(6).astype(np.float32)
    bias[0] = -0.0
    kw = dict(stride=(2, 1), padding="SAME", lo=-4.0)
    prog = depthwise_conv2d_fp16_program(CFG, x.shape, w, bias, x_addr=X, out_addr=OUT,
                                         param_addr=PARAMS, **kw)
    assert any(d[0] & 0xF == Opcode.ELTWISE.value and d[0] & 0x290 == 0x290
               for d in prog.descriptors)                       # FP16 pair MACs
    image = image_with((X, x), *prog.blobs)
    _, mem, _ = run_both(prog.descriptors, image, config)
    assert np.array_equal(output(mem, prog).view(np.uint16),
                          depthwise_conv2d_fp16(x, w, bias, **kw).view(np.uint16))


@pytest.mark.parametrize(("follow", "opregs"), [(False, False), (True, False), (True, True)],
                         ids=["held", "follow", "follow_operand_regs"])
def test_global_average_pool_int8_on_the_mac_reduce(follow, opregs):
    """INT8 global pooling: one reduce MAC per chunk and image (two images, a partial chunk);
    also with ``npu_load_follow`` on a slow memory (the MACs' rows come with bubbles while
    the image rows land); also so with ``npu_eltwise_operand_regs`` (a reduce row adds onto
    the output register through the extra stage)."""
    config = dataclasses.replace(CFG, npu_load_follow=follow, npu_eltwise_operand_regs=opregs)
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (2, 4, 3, 6), dtype=np.int8)
    x[0, :, :, 0] = -128                    # a channel of -128 only
    kw = dict(lo=-100, hi=127)
    prog = average_pool_int8_program(CFG, x.shape, (4, 3), x_addr=X, out_addr=OUT,
                                     param_addr=PARAMS, **kw)
    assert any("reduce" in note for note in prog.notes)
    image = image_with((X, x), *prog.blobs)
    _, mem, _ = run_both(prog.descriptors, image, config, gnt=0.15 if follow else 0.9)
    assert np.array_equal(output(mem, prog), average_pool_int8(x, (4, 3), **kw))


def random_mix(rng):
    """LOADs of random SPAD / ACC rows, ELTWISE (valid and malformed), a COMPUTE between them,
    and STOREs of every ACC row as raw int32."""
    words = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=X,
                    dram_stride=8, rows=96, cols=4, local_addr=0),
             encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=X2,
                    dram_stride=16, rows=60, cols=4, local_addr=0)]
    for i in range(14):
        prec = Precision(int(rng.integers(0, 2)))
        kind = rng.random() if prec == Precision.INT8 else rng.uniform(0.35, 1.0)
        op = EltwiseOp.ADD if kind < 0.35 else EltwiseOp.MAX
        m_cols = int(rng.integers(1, 4))
        m_rows = int(rng.integers(1, 4))
        walk = dict(a_cols=m_cols, a_rows=m_rows, a_col_step=int(rng.integers(0, 3)),
                    a_row_step=int(rng.integers(0, 12))) if rng.random() < 0.6 else {}
        m = m_cols * m_rows if walk else int(rng.integers(1, 12))
        fields = dict(op=op, precision=prec, a_addr=int(rng.integers(0, 60)),
                      acc_addr=int(rng.integers(0, 40)), m=m, n=int(rng.integers(1, 5)), **walk)
        if kind < 0.75 and op == EltwiseOp.MAX:
            reduce = rng.random() < (0.4 if prec == Precision.INT8 else 0.1)   # FP16: refused
            fields.update(mac=1, b_addr=int(rng.integers(0, 96)),
                          accumulate=int(rng.random() < 0.6), reduce=int(reduce))
            if rng.random() < 0.6:           # two taps per row, the second tap_step rows on
                fields.update(pair=1, tap_step=int(rng.choice([0, 1, 5, 17])))
        elif op == EltwiseOp.ADD:
            fields.update(b_addr=int(rng.integers(0, 60)), zp_a=int(rng.integers(-128, 128)),
                          zp_b=int(rng.integers(-128, 128)),
                          mult_a=int(rng.integers(-(1 << 31), 1 << 31)),
                          mult_b=int(rng.integers(1 << 30, 1 << 31)),
                          rshift_a=int(rng.integers(0, 32)), rshift_b=int(rng.integers(0, 32)))
        else:
            fields["accumulate"] = int(rng.random() < 0.6)
        cmd = encode(Opcode.ELTWISE, **fields)
        if i % 5 == 4:                       # malformed: a reserved bit, or out of range
            cmd[4] |= 1 << 20 if i % 2 else 0
            cmd[3] = (cmd[3] & ~0xFFFF) | (63 if i % 2 == 0 else cmd[3] & 0xFFFF)
        words.append(cmd)
        if i == 6:
            words.append(encode(Opcode.COMPUTE, precision=Precision.INT8, accumulate=1,
                                a_addr=3, w_addr=40, acc_addr=int(rng.integers(0, 30)), m=5,
                                k=4, n=4))
    words.append(encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8,
                        dram_addr=OUT, dram_stride=16, rows=64, cols=4, acc_addr=0))
    return words


@pytest.mark.parametrize(("seed", "config"),
                         [(0, CFG), (1, CFG), (2, CFG), (3, CFG_FOLLOW), (0, CFG_PIPE),
                          (1, CFG_OPREGS), (2, CFG_OPREGS_PIPE)],
                         ids=["0", "1", "2", "3-follow", "0-pipelined", "1-operand_regs",
                              "2-operand_regs_pipelined"])
def test_random_eltwise_mix(seed, config):
    """Seed 3 with ``npu_load_follow``: COMPUTEs and ELTWISEs follow their LOADs row by row;
    seed 0 also with ``npu_eltwise_pipeline``; seed 1 with ``npu_eltwise_operand_regs``,
    seed 2 with both."""
    rng = np.random.default_rng(10 + seed)
    image = bytearray(rng.integers(0, 256, SIZE, dtype=np.uint8).tobytes())
    spad = rng.standard_normal(96 * 4).astype(np.float16)
    spad[rng.choice(spad.size, 40, replace=False)] = rng.choice(
        np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 6e-8, -6e-8], np.float16), 40)
    image[0:spad.nbytes] = spad.tobytes()
    acc = rng.standard_normal(60 * 4).astype(np.float32)
    acc[rng.choice(acc.size, 30, replace=False)] = rng.choice(
        np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40], np.float32), 30)
    image[0xC00:0xC00 + acc.nbytes] = acc.tobytes()
    descriptors = random_mix(rng)
    _, _, ref = run_both(descriptors, image, config)
    assert ref.error is not None                      # the malformed ones were refused
    ran = [d[0] & 0x1F0 for d, code in zip(descriptors, ref.codes, strict=True)
           if d[0] & 0xF == Opcode.ELTWISE.value and code.value == 0]
    assert len(ran) >= 8 and len(set(ran)) >= 3       # ADD, MAX, MAC; INT8 and FP16 ran
    assert any(r & 0x80 for r in ran)                 # a MAC ran
    if seed < 2:
        assert any(r & 0x90 == 0x90 for r in ran)     # an FP16 MAC ran


def follow_program(rng, fence):
    """LOADs, then ELTWISEs each followed at once by a STORE of (part of) its ACC rows or of
    an older one's (the first ELTWISE's STORE: all of its 48 rows), lanes 0-1 as raw 32-bit
    words one after another from OUT (``fence``: a FENCE before the first STORE)."""
    words = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=X,
                    dram_stride=8, rows=96, cols=4, local_addr=0),
             encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=X2,
                    dram_stride=16, rows=60, cols=4, local_addr=0)]
    kinds = [dict(op=EltwiseOp.MAX, mac=1, precision=Precision.INT8, accumulate=1),
             dict(op=EltwiseOp.MAX, mac=1, precision=Precision.INT8, reduce=1),
             dict(op=EltwiseOp.MAX, mac=1, precision=Precision.FP16, pair=1, tap_step=3),
             dict(op=EltwiseOp.MAX, precision=Precision.INT8, accumulate=1),
             dict(op=EltwiseOp.MAX, mac=1, precision=Precision.INT8, pair=1, tap_step=1)]
    prev, at = (0, 1), OUT
    for i, kind in enumerate(kinds * 2):
        m = 48 if i == 0 else int(rng.integers(1, 13))
        acc = int(rng.integers(0, 60 - m))
        fields = dict(kind, a_addr=int(rng.integers(0, 90 - m)), acc_addr=acc, m=m,
                      n=int(rng.integers(1, 5)))
        if kind.get("mac"):
            fields["b_addr"] = int(rng.integers(0, 94))
        words.append(encode(Opcode.ELTWISE, **fields))
        rows = 1 if kind.get("reduce") else m
        first, count = (acc, rows) if rng.random() < 0.8 else prev
        if rng.random() < 0.3 and count > 1:
            first, count = first + count // 2, count - count // 2     # its second half
        if i == 0:          # the STORE whose overlap the test measures: all 48 rows
            first, count = acc, rows
        prec = Precision.FP16 if kind["precision"] == Precision.FP16 else Precision.INT8
        if fence and i == 0:
            words.append(encode(Opcode.FENCE))
        raw = OutType.FP32 if prec == Precision.FP16 else OutType.INT32
        words.append(encode(Opcode.STORE, out=raw, acc_type=prec, dram_addr=at,
                            dram_stride=8, rows=count, cols=2, acc_addr=first))
        prev, at = (acc, rows), at + 8 * count
    return words


# Seed 1 is another draw of the same program generator: under `make fuzz` (~14 s).
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_store_follows_eltwise_rows(seed):
    """A STORE right after an ELTWISE writing its rows follows them row by row
    (``EltwiseUnit.acc_pending``, the dispatcher's ``store_orders_acc``): bit-exact with the
    command model (INT8 MAC with and without ``reduce``, FP16 pair MAC, MAX; STOREs of all,
    half or an older ELTWISE's rows), and the first STORE overlaps its ELTWISE: the program
    takes fewer cycles than with a FENCE between them by most of that ELTWISE's 48 rows."""
    busy = {}
    for fence in (False, True):
        rng = np.random.default_rng(20 + seed)
        image = bytearray(rng.integers(0, 256, SIZE, dtype=np.uint8).tobytes())
        spad = rng.standard_normal(96 * 4).astype(np.float16)
        image[0:spad.nbytes] = spad.tobytes()
        acc = rng.standard_normal(60 * 4).astype(np.float32)
        image[0xC00:0xC00 + acc.nbytes] = acc.tobytes()
        regs, _, ref = run_both(follow_program(rng, fence), image)
        assert ref.error is None
        busy[fence] = regs["PERF_BUSY_LO"]
    assert busy[False] <= busy[True] - 24, busy


def test_fp16_widening_and_order_key_for_every_fp16():
    """The unit's fp16 -> fp32 widening is exact for all 65536 patterns (NaN flagged), and the
    order key of the widened value sorts like the fp32 value (-0.0 below +0.0)."""
    from amaranth.hdl import Cat, Module, Signal
    from amaranth.sim import Simulator
    from dure.rtl.npu.eltwise_unit import _order_key, _widen_fp16

    # 64 lanes per step; the lanes' inputs are set and their outputs read as one wide value
    # each (two simulator calls per step instead of 256: 10x less time, the same 65536 cases).
    lanes = 64
    m = Module()
    hs = [Signal(16) for _ in range(lanes)]
    outs = [(Signal(32), Signal(), Signal(32)) for _ in range(lanes)]
    packed_in, packed_out = Signal(16 * lanes), Signal(65 * lanes)
    for i, (h, (o, nan, key)) in enumerate(zip(hs, outs, strict=True)):
        bits, is_nan = _widen_fp16(h)
        m.d.comb += [h.eq(packed_in.word_select(i, 16)),
                     o.eq(bits), nan.eq(is_nan), key.eq(_order_key(bits))]
    m.d.comb += packed_out.eq(Cat(*(part for lane in outs for part in lane)))
    got, nans, keys = [], [], []

    async def bench(ctx):
        for start in range(0, 1 << 16, lanes):
            ctx.set(packed_in, sum((start + i) << (16 * i) for i in range(lanes)))
            value = ctx.get(packed_out)
            for i in range(lanes):
                lane = value >> (65 * i)
                got.append(lane & 0xFFFF_FFFF)
                nans.append((lane >> 32) & 1)
                keys.append((lane >> 33) & 0xFFFF_FFFF)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    want = h.astype(np.float32)
    isnan = np.isnan(want)
    assert np.array_equal(np.array(nans, bool), isnan)
    assert np.array_equal(np.array(got, np.uint32)[~isnan], want.view(np.uint32)[~isnan])
    order = np.argsort(np.array(keys, np.uint64)[~isnan], kind="stable")
    values = want[~isnan][order]
    assert np.all(np.diff(values) >= 0)
    zeros = np.flatnonzero(values == 0)
    assert np.signbit(values[zeros[0]]) and not np.signbit(values[zeros[-1]])


def test_rescale_equals_the_golden_for_every_input():
    """The unit's ADD rescaling for every ``x - zp`` in [-255, 255], right shifts 0, 1, 17, 31
    and multipliers at the edges (TFLite's [2**30, 2**31), negative, INT32_MIN):
    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul((x - zp) << 20, M), r)``."""
    from amaranth.hdl import Module, Signal, signed
    from amaranth.sim import Simulator
    from dure.rtl.npu.eltwise_unit import _rescale
    from dure.sim.golden_fixedpoint import (
        rounding_divide_by_pot,
        saturating_rounding_doubling_high_mul,
    )

    lanes = 64
    m = Module()
    ports = [(Signal(signed(10)), Signal(signed(32)), Signal(5), Signal(signed(32)))
             for _ in range(lanes)]
    for v, mult, r, out in ports:
        m.d.comb += out.eq(_rescale(v, mult, r))
    values = np.arange(-255, 256)
    mults = [1 << 30, (1 << 31) - 1, -1_234_567_890, -(1 << 31)]
    cases = [(int(v), mu, r) for mu in mults for r in (0, 1, 17, 31) for v in values]
    got = []

    async def bench(ctx):
        for start in range(0, len(cases), lanes):
            chunk = cases[start:start + lanes]
            for (v, mu, r), (sv, sm, sr, _) in zip(chunk, ports, strict=False):
                ctx.set(sv, v)
                ctx.set(sm, mu)
                ctx.set(sr, r)
            got.extend(ctx.get(port[3]) for port in ports[:len(chunk)])

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    v, mu, r = (np.array(c, np.int64) for c in zip(*cases, strict=True))
    want = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(v << 20, mu), r)
    assert np.array_equal(np.array(got, np.int64), want.astype(np.int64))


def test_rescale_steps_equal_the_golden_on_random_inputs():
    """The three steps of the ADD rescaling (products, high half, rounding shift; registered
    one by one with ``npu_eltwise_pipeline``) on random ``x - zp``, multipliers over the whole
    int32 range and every right shift 0..31, against the golden TFLite arithmetic."""
    from amaranth.hdl import Module, Signal, signed
    from amaranth.sim import Simulator
    from dure.rtl.npu.eltwise_unit import _divide_by_pot, _high_mul, _rescale_products
    from dure.sim.golden_fixedpoint import (
        rounding_divide_by_pot,
        saturating_rounding_doubling_high_mul,
    )

    lanes = 64
    m = Module()
    ports = [(Signal(signed(10)), Signal(32), Signal(5), Signal(signed(32)))
             for _ in range(lanes)]
    for v, mult, r, out in ports:
        m.d.comb += out.eq(_divide_by_pot(_high_mul(*_rescale_products(v, mult)), r))
    rng = np.random.default_rng(17)
    n = 64 * 80
    v = rng.integers(-255, 256, n)
    mu = rng.integers(-(1 << 31), 1 << 31, n)
    mu[:64] = [-(1 << 31), (1 << 31) - 1, 0, 1, -1, 1 << 30] * 10 + [2, -2, 3, -3]
    r = np.arange(n) % 32
    got = []

    async def bench(ctx):
        for start in range(0, n, lanes):
            for i, (sv, sm, sr, _) in enumerate(ports):
                ctx.set(sv, int(v[start + i]))
                ctx.set(sm, int(mu[start + i]) & 0xFFFF_FFFF)
                ctx.set(sr, int(r[start + i]))
            got.extend(ctx.get(port[3]) for port in ports)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    want = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(
        v.astype(np.int64) << 20, mu.astype(np.int64)), r.astype(np.int64))
    assert np.array_equal(np.array(got, np.int64), want.astype(np.int64))
