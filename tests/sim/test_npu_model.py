"""The golden command model: tiled GEMM streams equal golden on whole matrices (bit-exact), and
the edge semantics of LOAD / COMPUTE / STORE / FENCE and of refused commands."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.descriptor import decode, encode
from dure.sim import golden
from dure.sim.gemm_descriptors import gemm_descriptors
from dure.sim.gemm_plan import plan_gemm
from dure.sim.npu_model import NpuModel

from dure.config import SoCConfig, preset

MAIN = 0x4000_0000
SMALL = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32,
                  main_size=64 * 1024)
ODD = SoCConfig(npu_rows=3, npu_cols=5, npu_spad_rows=32, npu_acc_rows=16, main_size=64 * 1024)
SIM = preset("sim")


def f32(x):
    return int(np.float32(x).view(np.uint32))


def fp16_values(rng, shape, specials=False):
    v = rng.normal(0, 2, shape).astype(np.float16)
    if specials:
        flat = v.reshape(-1)
        pick = rng.random(flat.shape) < 0.03
        flat[pick] = rng.choice(np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 6e-8, 65504],
                                         np.float16), pick.sum())
    return v


class Layout:
    """A, B, bias, scale and output placed in main memory with padded strides."""

    def __init__(self, model, a, b, *, bias=None, scale=None, out=OutType.INT32, pad=3):
        self.model = model
        m, k = a.shape
        n = b.shape[1]
        eb = a.itemsize
        self.ob = {OutType.INT8: 1, OutType.INT32: 4, OutType.FP16: 2, OutType.FP32: 4}[out]
        align = max(eb, self.ob, 4)
        at = MAIN + 64 + eb                      # A and B start off word boundaries
        self.a_stride = (k * eb + pad + eb - 1) // eb * eb
        self.a = at
        at += m * self.a_stride + 64 + eb
        self.b_stride = (n * eb + pad + eb - 1) // eb * eb
        self.b = at
        at = (at + k * self.b_stride + 64) // 4 * 4
        self.bias = at if bias is not None else None
        at += 4 * n + 64
        self.scale = at if scale is not None else None
        at += 4 * n + 64
        self.out_stride = (n * self.ob + pad + self.ob - 1) // self.ob * self.ob
        self.out = (at + align - 1) // align * align
        model.place(self.a, a, self.a_stride)
        model.place(self.b, b, self.b_stride)
        if bias is not None:
            model.place(self.bias, bias)
        if scale is not None:
            model.place(self.scale, scale.astype(np.float32))
        self.end = self.out + m * self.out_stride
        model.set_window(MAIN, self.end - MAIN)

    def result(self, m, n, dtype):
        return self.model.fetch(self.out, (m, n), dtype, self.out_stride)


def run_gemm(config, a, b, *, out, bias=None, scale=None, zero_point=0, lo=None, hi=None,
             plan=None):
    model = NpuModel(config, memory={MAIN: bytes(config.main_size)})
    lay = Layout(model, a, b, bias=bias, scale=scale, out=out)
    prec = Precision.FP16 if a.dtype == np.float16 else Precision.INT8
    words = gemm_descriptors(config, a.shape[0], a.shape[1], b.shape[1], precision=prec,
                             a_addr=lay.a, a_stride=lay.a_stride, b_addr=lay.b,
                             b_stride=lay.b_stride, out_addr=lay.out, out_stride=lay.out_stride,
                             out=out, bias_addr=lay.bias, scale_addr=lay.scale,
                             zero_point=zero_point, lo=lo, hi=hi, plan=plan)
    codes = model.run(words)
    assert set(codes) == {ErrorCode.NONE}
    dtype = {OutType.INT8: np.int8, OutType.INT32: np.int32, OutType.FP16: np.float16,
             OutType.FP32: np.float32}[out]
    return lay.result(a.shape[0], b.shape[1], dtype), model


SHAPES = [(1, 1, 1), (5, 9, 13), (17, 4, 8), (3, 33, 7), (40, 13, 21)]


@pytest.mark.parametrize("config", [SMALL, ODD], ids=["4x8", "3x5"])
@pytest.mark.parametrize("shape", SHAPES)
def test_int8_gemm_all_outputs(config, shape):
    m, k, n = shape
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    bias = rng.integers(-5000, 5000, n, dtype=np.int32)
    scale = (rng.random(n) * 0.02 + 0.001).astype(np.float32)
    acc = golden.gemm_int8(a, b, bias)
    got, _ = run_gemm(config, a, b, out=OutType.INT32, bias=bias)
    assert np.array_equal(got, acc)
    got, _ = run_gemm(config, a, b, out=OutType.INT32)
    assert np.array_equal(got, golden.gemm_int8(a, b))
    got, _ = run_gemm(config, a, b, out=OutType.INT8, bias=bias, scale=scale, zero_point=-3,
                      lo=-3, hi=100)
    assert np.array_equal(got, golden.requantize(acc, scale, -3, -3, 100))
    got, _ = run_gemm(config, a, b, out=OutType.FP16, bias=bias, scale=scale)
    assert np.array_equal(golden.bits(got), golden.bits(golden.dequantize_fp16(acc, scale)))


@pytest.mark.parametrize("config", [SMALL, ODD], ids=["4x8", "3x5"])
@pytest.mark.parametrize("shape", SHAPES)
def test_fp16_gemm_all_outputs(config, shape):
    m, k, n = shape
    rng = np.random.default_rng(m * 1000 + k * 10 + n + 1)
    a = fp16_values(rng, (m, k), specials=True)
    b = fp16_values(rng, (k, n), specials=True)
    bias = rng.normal(0, 4, n).astype(np.float32)
    scale = (rng.random(n) * 2 - 0.5).astype(np.float32)
    acc = golden.gemm_fp16(a, b, bias)
    got, _ = run_gemm(config, a, b, out=OutType.FP32, bias=bias)
    assert np.array_equal(golden.bits(got), golden.bits(acc))
    got, _ = run_gemm(config, a, b, out=OutType.FP32, scale=scale, lo=-1.5, hi=3.0)
    ref = golden.gemm_fp16(a, b)
    with np.errstate(all="ignore"):
        y = ref * scale
    y = np.where(y < np.float32(-1.5), np.float32(-1.5), y).astype(np.float32)
    y = np.where(y > np.float32(3.0), np.float32(3.0), y).astype(np.float32)
    assert np.array_equal(golden.bits(got), golden.bits(golden.canonicalize_nan(y)))
    got, _ = run_gemm(config, a, b, out=OutType.FP16, bias=bias, scale=scale, lo=0.0)
    want = golden.fp16_postprocess(acc, scale, 0.0, None)
    assert np.array_equal(golden.bits(got), golden.bits(want))
    got, _ = run_gemm(config, a, b, out=OutType.FP16)
    assert np.array_equal(golden.bits(got), golden.bits(golden.fp16_postprocess(ref)))


def test_fp16_long_k_order():
    # K = 200 over 8-row tiles: the sequential order across tiles must be kept (a pairwise or
    # per-tile sum differs for these magnitudes).
    rng = np.random.default_rng(5)
    a = (rng.normal(0, 1, (6, 200)) * np.logspace(-3, 3, 200)).astype(np.float16)
    b = rng.normal(0, 1, (200, 9)).astype(np.float16)
    got, _ = run_gemm(SIM, a, b, out=OutType.FP32)
    assert np.array_equal(golden.bits(got), golden.bits(golden.gemm_fp16(a, b)))
    per_tile = sum(golden.gemm_fp16(a[:, i:i + 8], b[i:i + 8]) for i in range(0, 200, 8))
    assert not np.array_equal(golden.bits(got), golden.bits(per_tile.astype(np.float32)))


def _stream(config, m, k, n, **kw):
    return [decode(w) for w in gemm_descriptors(
        config, m, k, n, precision=Precision.INT8, a_addr=MAIN, a_stride=k, b_addr=MAIN,
        b_stride=n, out_addr=MAIN, out_stride=4 * n, out=OutType.INT32, **kw)]


@pytest.mark.parametrize("config", [SMALL, ODD, SIM, preset("npu-small")],
                         ids=["4x8", "3x5", "sim", "npu-small"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (40, 400, 21), (256, 256, 256), (125, 64, 64),
                                   (1, 640, 12), (1024, 27, 16)])
def test_plan_fits_the_memories(config, shape):
    # Whatever the search picks, the buffers fit: 2 A + 2 W buffers in the SPAD, 2 ACC halves
    # (+ 2 x gn scale rows) in the ACC, and every command's rows stay inside its memory.
    for scale in (False, True):
        p = plan_gemm(config, *shape, scale=scale)
        r = config.npu_rows
        assert p.mblk % p.mc == 0 and 1 <= p.gn <= p.nt and 1 <= p.q <= p.kt
        assert 2 * p.q * (p.mblk + p.gn * r) <= config.npu_spad_rows
        assert 2 * p.gn * p.mblk + (2 * p.gn if scale else 0) <= config.npu_acc_rows
        if scale:
            assert p.scale_row >= 2 * p.gn * p.mblk
    if shape[0] * shape[1] * shape[2] > 100_000 and config is SIM:
        return                                    # the 256^3 stream is checked below
    p = plan_gemm(config, *shape)
    for op, f in _stream(config, *shape):
        if op == Opcode.COMPUTE:
            assert f["a_addr"] + f["m"] <= p.w_base <= f["w_addr"]
            assert f["w_addr"] + f["k"] <= config.npu_spad_rows
            assert f["acc_addr"] + f["m"] <= 2 * p.gn * p.mblk


def test_large_gemm_plan_keeps_the_array_busy():
    # 256^3 on the 8x8 sim array: COMPUTEs of >= 64 rows, several N tiles per group, and no
    # COMPUTE writes ACC rows that one of the 3 COMPUTEs before it writes (it would wait for the
    # array's latency); one W LOAD per N tile per chunk of q K tiles; the side commands (LOADs,
    # STOREs) spread between the COMPUTEs, never more than 2 in a row.
    p = plan_gemm(SIM, 256, 256, 256)
    assert p.mc >= 64 and p.gn >= 4 and p.q >= 4
    stream = _stream(SIM, 256, 256, 256)
    computes = [f for op, f in stream if op == Opcode.COMPUTE]
    assert len(computes) == 256 // p.mc * 32 * 32 and all(f["m"] == p.mc for f in computes)
    for i, f in enumerate(computes):
        for g in computes[max(0, i - 3):i]:
            assert g["acc_addr"] != f["acc_addr"], i
    blocks, groups, chunks = 256 // p.mblk, -(-32 // p.gn), -(-32 // p.q)
    loads = [f for op, f in stream if op == Opcode.LOAD]
    assert len(loads) == blocks * (groups * 32 + chunks * 32)
    at = [i for i, (op, _) in enumerate(stream) if op == Opcode.COMPUTE]
    run = 0
    for op, _ in stream[at[0]:at[-1]]:
        run = 0 if op == Opcode.COMPUTE else run + 1
        assert run <= 2


def test_tiny_blockings_are_exact():
    # Forcing tiny blocks, groups and chunks (many partial edges) gives the same result.
    rng = np.random.default_rng(9)
    a = rng.integers(-128, 128, (19, 10), dtype=np.int8)
    b = rng.integers(-128, 128, (10, 20), dtype=np.int8)
    bias = rng.integers(-2**31, 2**31, 20, dtype=np.int32)
    base = plan_gemm(SMALL, 19, 10, 20, bias=True)
    for mc, mblk, gn, q in ((1, 1, 1, 1), (2, 6, 2, 2), (3, 6, 2, 1), (5, 15, 1, 1), (2, 4, 4, 1)):
        plan = dataclasses.replace(base, mc=mc, mblk=mblk, gn=gn, q=q, w_base=2 * q * mblk,
                                   scale_row=SMALL.npu_acc_rows - 2 * gn)
        got, _ = run_gemm(SMALL, a, b, out=OutType.INT32, bias=bias, plan=plan)
        want = golden.gemm_int8(a, b) + bias
        assert np.array_equal(got, want.astype(np.int32)), (mc, mblk, gn, q)


# --- edge semantics of single commands --------------------------------------------------------

def fresh(config=SMALL):
    model = NpuModel(config, memory={MAIN: bytes(4096)})
    model.set_window(MAIN, 4096)
    return model


def load(**kw):
    f = dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN, dram_stride=8,
             rows=1, cols=8, local_addr=0)
    f.update(kw)
    return encode(Opcode.LOAD, **f)


def test_load_zeroes_lanes_beyond_cols_and_sign_extends():
    model = fresh()
    model.spad[:] = 0xAAAA
    model.acc[:] = 0xDEADBEEF
    model.write(MAIN, bytes([0x80, 0x7F, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
    assert model.execute(load(rows=2, cols=3, dram_stride=5, local_addr=10)) == ErrorCode.NONE
    assert list(model.spad[10]) == [0xFF80, 0x7F, 0xFFFF, 0, 0, 0, 0, 0]
    assert list(model.spad[11]) == [3, 4, 5, 0, 0, 0, 0, 0]
    assert (model.spad[9] == 0xAAAA).all() and (model.spad[12] == 0xAAAA).all()
    assert model.execute(load(elem=ElemType.FP16, cols=2, dram_stride=4, local_addr=1)) == \
        ErrorCode.NONE
    assert list(model.spad[1]) == [0x7F80, 0x01FF, 0, 0, 0, 0, 0, 0]
    code = model.execute(load(target=LoadTarget.ACC, elem=ElemType.WORD32, rows=3, cols=2,
                              dram_addr=MAIN + 4, broadcast=1, dram_stride=0, local_addr=4))
    assert code == ErrorCode.NONE
    for row in (4, 5, 6):
        assert list(model.acc[row]) == [0x05040302, 0x09080706, 0, 0, 0, 0, 0, 0]
    assert (model.acc[3] == 0xDEADBEEF).all() and (model.acc[7] == 0xDEADBEEF).all()


def test_compute_touches_only_lanes_below_n_and_ignores_lanes_beyond_k():
    model = fresh()
    model.spad[0] = [1, 2, 3, 0x55, 0x55, 0x55, 0x55, 0x55]   # A row; lanes >= k are junk
    model.spad[8:11] = np.arange(24, dtype=np.uint16).reshape(3, 8) & 0x7
    model.spad[11] = 0x77                                      # W row k=3 must not be used
    model.acc[0] = 1000
    words = encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=8, acc_addr=0,
                   m=1, k=3, n=5, accumulate=1)
    assert model.execute(words) == ErrorCode.NONE
    w = (np.arange(24).reshape(3, 8) & 7)[:, :5]
    assert list(model.acc[0, :5]) == list(1000 + np.array([1, 2, 3]) @ w)
    assert list(model.acc[0, 5:]) == [1000] * 3
    # FP16 without accumulate starts from +0.0; -0.0 products give +0.0
    model.spad[20] = np.float16(-0.0).view(np.uint16)
    model.spad[21] = np.float16(1.0).view(np.uint16)
    model.acc[1] = 0x8000_0000
    words = encode(Opcode.COMPUTE, precision=Precision.FP16, a_addr=20, w_addr=21, acc_addr=1,
                   m=1, k=1, n=2)
    model.execute(words)
    assert list(model.acc[1, :3]) == [0, 0, 0x8000_0000]
    # with accumulate from -0.0: -0.0 + -0.0 = -0.0
    model.acc[1] = 0x8000_0000
    model.execute(encode(Opcode.COMPUTE, precision=Precision.FP16, a_addr=20, w_addr=21,
                         acc_addr=1, m=1, k=1, n=2, accumulate=1))
    assert list(model.acc[1, :2]) == [0x8000_0000] * 2


def test_int8_accumulate_wraps():
    model = fresh()
    model.spad[0, 0] = 0xFF80           # -128
    model.spad[1, 0] = 0xFF80
    model.acc[0, 0] = 0x7FFF_FFFF
    model.execute(encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=1,
                         acc_addr=0, m=1, k=1, n=1, accumulate=1))
    assert model.acc[0, 0] == (0x7FFF_FFFF + 16384) & 0xFFFF_FFFF


def test_store_strides_and_out_types():
    model = fresh()
    model.acc[2, :3] = np.array([100, -300, 7], np.int32).view(np.uint32)
    model.acc[3, :3] = np.array([-1, 2, 3], np.int32).view(np.uint32)
    model.acc[9, :3] = np.array([0.5, 0.5, 2.0], np.float32).view(np.uint32)
    words = encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                   zero_point=1, dram_addr=MAIN + 0x101, dram_stride=7, rows=2, cols=3,
                   acc_addr=2, scale_addr=9, lo=-128 & 0xFFFF_FFFF, hi=127)
    before = model.read(MAIN + 0x100, 20)
    assert model.execute(words) == ErrorCode.NONE
    after = model.read(MAIN + 0x100, 20)
    assert after[1:4] == np.array([51, -128, 15], np.int8).tobytes()
    assert after[8:11] == np.array([1, 2, 7], np.int8).tobytes()
    untouched = [i for i in range(20) if i not in (1, 2, 3, 8, 9, 10)]
    assert all(after[i] == before[i] for i in untouched)
    words = encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8,
                   dram_addr=MAIN + 0x200, dram_stride=16, rows=2, cols=2, acc_addr=2)
    model.execute(words)
    assert model.fetch(MAIN + 0x200, (2, 2), np.int32, 16).tolist() == [[100, -300], [-1, 2]]


def test_refused_commands_change_nothing_and_set_error():
    model = fresh()
    rng = np.random.default_rng(1)
    model.spad[:] = rng.integers(0, 65536, model.spad.shape)
    model.acc[:] = rng.integers(0, 1 << 32, model.acc.shape)
    model.write(MAIN, rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    state = (model.spad.copy(), model.acc.copy(), model.read(MAIN, 4096))
    bad = [
        (load(rows=0), ErrorCode.ZERO_DIM),
        (load(cols=9), ErrorCode.DIM_TOO_LARGE),
        (load(dram_addr=MAIN + 4090), ErrorCode.DMA_WINDOW),
        (load(local_addr=64), ErrorCode.LOCAL_RANGE),
        ([0] * 8, ErrorCode.BAD_OPCODE),
        (encode(Opcode.COMPUTE, a_addr=0, w_addr=0, acc_addr=0, m=1, k=5, n=1),
         ErrorCode.DIM_TOO_LARGE),
        (encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8, dram_addr=MAIN,
                dram_stride=8, rows=1, cols=8, lo=0, hi=0), ErrorCode.BAD_COMBINATION),
        (encode(Opcode.COMPUTE, m=1, k=1, n=1, dataflow=1), ErrorCode.BAD_COMBINATION),
    ]
    for words, code in bad:
        assert model.execute(words) == code
    assert model.error == (ErrorCode.ZERO_DIM, 0)
    assert model.issued == model.done == len(bad)
    assert np.array_equal(model.spad, state[0]) and np.array_equal(model.acc, state[1])
    assert model.read(MAIN, 4096) == state[2]
    assert model.macs == 0
    model.clear_error()
    assert model.execute(load(rows=0)) == ErrorCode.ZERO_DIM
    assert model.error == (ErrorCode.ZERO_DIM, len(bad))


def test_empty_window_refuses_dma_and_bus_error_on_unbacked_memory():
    model = NpuModel(SMALL, memory={MAIN: bytes(256)})
    assert model.execute(load()) == ErrorCode.DMA_WINDOW
    model.set_window(MAIN, 4096)                         # window larger than the memory
    spad = model.spad.copy()
    assert model.execute(load(dram_addr=MAIN + 252)) == ErrorCode.BUS_ERROR
    assert np.array_equal(model.spad, spad)
    assert model.execute(load(dram_addr=MAIN + 248)) == ErrorCode.NONE


def test_fence_irq_flag():
    model = fresh()
    assert model.execute(encode(Opcode.FENCE)) == ErrorCode.NONE
    assert not model.fence_irq
    assert model.execute(encode(Opcode.FENCE, irq=1)) == ErrorCode.NONE
    assert model.fence_irq
    model.clear_fence_irq()
    assert not model.fence_irq


def test_random_streams_refusals_are_no_ops():
    # Random descriptors near the validator's boundaries, each with its own window: replaying
    # only the executed ones gives the same final state.
    import random

    from dure.sim.npu_descriptors import make_vectors

    vectors = make_vectors(random.Random(3), SMALL, 600)
    model_a = NpuModel(SMALL, memory={MAIN: bytes(8192)})
    codes = []
    for words, base, size in vectors:
        model_a.set_window(base, size)
        codes.append(model_a.execute(words))
    assert codes.count(ErrorCode.NONE) > 20 and len(set(codes)) > 5
    model_b = NpuModel(SMALL, memory={MAIN: bytes(8192)})
    for (words, base, size), code in zip(vectors, codes, strict=True):
        if code == ErrorCode.NONE:
            model_b.set_window(base, size)
            assert model_b.execute(words) == ErrorCode.NONE
    assert np.array_equal(model_a.spad, model_b.spad)
    assert np.array_equal(model_a.acc, model_b.acc)
    assert model_a.read(MAIN, 8192) == model_b.read(MAIN, 8192)


def test_apply_takes_partial_fields_and_rejects_unknown_ones():
    model = fresh()
    model.write(MAIN, bytes([5, 6]))
    assert model.apply(Opcode.LOAD, dict(dram_addr=MAIN, rows=1, cols=2)) == ErrorCode.NONE
    assert list(model.spad[0, :3]) == [5, 6, 0]
    with pytest.raises(KeyError, match="no field"):
        model.apply(Opcode.LOAD, dict(m=1))


# --- walked COMPUTE, diagonal, fill and placed LOADs -------------------------------------------

def walk_reference(spad, a_addr, rows, cols, col_step, row_step, k):
    """A's rows of a walk, gathered by explicit 2-D indexing (independent of the model)."""
    grid = [[a_addr + y * row_step + x * col_step for x in range(cols)] for y in range(rows)]
    return spad[np.array(grid).reshape(-1), :k]


@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("precision", [Precision.INT8, Precision.FP16])
def test_walked_compute_is_a_gemm_of_the_gathered_rows(step, precision):
    rng = np.random.default_rng(10 + step)
    model = fresh()
    wp = 9                                        # row pitch of a 9-wide image tile
    if precision == Precision.INT8:
        model.spad[:] = rng.integers(-128, 128, model.spad.shape).astype(np.int16).view(np.uint16)
    else:
        model.spad[:] = fp16_values(rng, model.spad.shape).view(np.uint16)
    model.acc[:] = rng.integers(0, 1 << 32, model.acc.shape, dtype=np.uint64).astype(np.uint32)
    if precision == Precision.FP16:
        model.acc[:] = rng.normal(0, 4, model.acc.shape).astype(np.float32).view(np.uint32)
    before = model.acc.copy()
    rows, cols, k, n = 3, 4, 4, 6
    fields = dict(precision=precision, a_addr=1, w_addr=50, acc_addr=5, m=rows * cols, k=k,
                  n=n, accumulate=1, a_cols=cols, a_rows=rows, a_col_step=step,
                  a_row_step=step * wp)
    assert model.execute(encode(Opcode.COMPUTE, **fields)) == ErrorCode.NONE
    a = walk_reference(model.spad, 1, rows, cols, step, step * wp, k)
    w = model.spad[50:50 + k, :n]
    init = before[5:5 + rows * cols, :n]
    if precision == Precision.INT8:
        want = golden.gemm_int8(a.view(np.int16).astype(np.int8), w.view(np.int16).astype(np.int8),
                                ).astype(np.int64) + init.view(np.int32)
        want = (want & 0xFFFF_FFFF).astype(np.uint32)
    else:
        want = golden.gemm_fp16(a.view(np.float16), w.view(np.float16),
                                init=init.view(np.float32).copy()).view(np.uint32)
    assert (model.acc[5:5 + rows * cols, :n] == want).all()
    assert (model.acc[5:5 + rows * cols, n:] == before[5:5 + rows * cols, n:]).all()
    assert (model.acc[:5] == before[:5]).all() and (model.acc[17:] == before[17:]).all()
    assert model.macs == rows * cols * k * n


def test_walk_with_zero_steps_repeats_one_row():
    model = fresh()
    model.spad[7, :2] = [3, 0xFFFE]               # 3, -2
    model.spad[30:32, :2] = [[1, 2], [10, 20]]
    assert model.execute(encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=7, w_addr=30,
                                acc_addr=0, m=4, k=2, n=2, a_cols=2, a_rows=2)) == ErrorCode.NONE
    assert (model.acc[:4, :2].view(np.int32) == [[3 - 20, 6 - 40]] * 4).all()


def test_diagonal_int8_uses_only_k_equal_n():
    model = fresh()
    model.spad[0] = np.array([-128, 5, 7, 9, 11, 1, 1, 1], np.int16).view(np.uint16)
    model.spad[8:12] = np.int16(100).view(np.uint16)     # every W lane 100 ...
    for j in range(4):
        model.spad[8 + j, j] = np.int16(-3 - j).view(np.uint16)   # ... but the diagonal
    model.acc[0] = 7
    assert model.execute(encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=8,
                                acc_addr=0, m=1, k=3, n=5, accumulate=1, diagonal=1)) == \
        ErrorCode.NONE
    assert list(model.acc[0].view(np.int32)) == [7 + 384, 7 - 20, 7 - 35, 7, 7, 7, 7, 7]
    assert model.macs == 3


def test_diagonal_fp16_keeps_other_lanes_out():
    inf, nan = np.float16(np.inf), np.float16(np.nan)
    model = fresh()
    a = np.array([2.0, inf, -0.0, 1.5, nan, 0, 0, 0], np.float16)
    w = np.full((4, 8), inf, np.float16)                  # off-diagonal Inf: must not leak
    w[[0, 1, 2, 3], [0, 1, 2, 3]] = [0.5, 2.0, 3.0, nan]
    model.spad[0] = a.view(np.uint16)
    model.spad[8:12] = w.view(np.uint16)
    model.acc[0] = np.array([1, 0, -0.0, 4, -0.0, -0.0, 9, 9], np.float32).view(np.uint32)
    model.acc[0, 5] = 0x7FC0_1234                         # a NaN payload: canonical on output
    assert model.execute(encode(Opcode.COMPUTE, precision=Precision.FP16, a_addr=0, w_addr=8,
                                acc_addr=0, m=1, k=4, n=6, accumulate=1, diagonal=1)) == \
        ErrorCode.NONE
    got = list(model.acc[0])
    assert got[0] == f32(2.0)                             # 1 + 2 * 0.5
    assert got[1] == f32(np.inf)                          # 0 + Inf * 2
    assert got[2] == 0x8000_0000                          # -0 + (-0 * 3) = -0
    assert got[3] == 0x7FC0_0000                          # 4 + 1.5 * NaN
    assert got[4] == 0x8000_0000                          # k <= 4: nothing takes part
    assert got[5] == 0x7FC0_0000                          # NaN init canonicalised
    assert got[6:] == [f32(9)] * 2                        # beyond n: untouched
    # without accumulate: +0 start, so a -0 product gives +0
    model.execute(encode(Opcode.COMPUTE, precision=Precision.FP16, a_addr=0, w_addr=8,
                         acc_addr=1, m=1, k=4, n=6, diagonal=1))
    assert list(model.acc[1, :6]) == [f32(1.0), f32(np.inf), 0, 0x7FC0_0000, 0, 0]


def test_fill_loads():
    model = fresh()
    model.spad[:] = 0xAAAA
    model.acc[:] = 0xDEADBEEF
    model.set_window(0, 0)                                # a fill reads nothing
    fill = dict(fill=1, rows=2, cols=3)
    assert model.execute(load(**fill, dram_addr=0, dram_stride=0, fill_value=0x1234_5680,
                              local_addr=4)) == ErrorCode.NONE
    assert (model.spad[4:6] == [0xFF80, 0xFF80, 0xFF80, 0, 0, 0, 0, 0]).all()
    assert model.execute(load(**fill, dram_addr=0, dram_stride=0, elem=ElemType.FP16,
                              fill_value=0xFFFF_8000, local_addr=6)) == ErrorCode.NONE
    assert (model.spad[6:8] == [0x8000] * 3 + [0] * 5).all()
    assert model.execute(load(**fill, dram_addr=0, dram_stride=0, target=LoadTarget.ACC,
                              elem=ElemType.WORD32, fill_value=0x8000_0001, local_addr=1)) \
        == ErrorCode.NONE
    assert (model.acc[1:3] == [0x8000_0001] * 3 + [0] * 5).all()
    assert (model.spad[3] == 0xAAAA).all() and (model.spad[8] == 0xAAAA).all()
    assert (model.acc[0] == 0xDEADBEEF).all() and (model.acc[3] == 0xDEADBEEF).all()
    assert model.error is None


def test_placed_loads_and_overlap_order():
    model = fresh()
    model.spad[:] = 0xAAAA
    src = np.arange(1, 13, dtype=np.int8).reshape(6, 2)
    model.place(MAIN, src, 8)
    assert model.execute(load(rows=6, cols=2, local_addr=3, local_cols=3, local_groups=2,
                              local_row_step=10)) == ErrorCode.NONE
    for r in range(6):
        assert list(model.spad[3 + (r // 3) * 10 + r % 3, :3]) == [2 * r + 1, 2 * r + 2, 0]
    assert (model.spad[6:13] == 0xAAAA).all() and (model.spad[16] == 0xAAAA).all()
    # overlapping groups (step 1 < local_cols 3): rows land in order, the later one wins
    assert model.execute(load(rows=6, cols=2, local_addr=30, local_cols=3, local_groups=2,
                              local_row_step=1)) == ErrorCode.NONE
    assert [list(model.spad[30 + i, :2]) for i in range(4)] == [[1, 2], [7, 8], [9, 10],
                                                                [11, 12]]
    # a fill painting one column of a 5-wide tile (local_cols = 1, step = Wp)
    model.spad[40:60] = 0x1111
    assert model.execute(load(fill=1, dram_addr=0, dram_stride=0, fill_value=0x7F, rows=4,
                              cols=8, local_addr=44, local_cols=1, local_groups=4,
                              local_row_step=5)) == ErrorCode.NONE
    for row in range(40, 60):
        want = 0x7F if row in (44, 49, 54, 59) else 0x1111
        assert (model.spad[row] == want).all()
    # a broadcast LOAD with placement
    model.write(MAIN + 64, bytes([5, 6]))
    assert model.execute(load(broadcast=1, dram_addr=MAIN + 64, dram_stride=0, rows=4, cols=2,
                              local_addr=20, local_cols=2, local_groups=2, local_row_step=4))\
        == ErrorCode.NONE
    for row in (20, 21, 24, 25):
        assert list(model.spad[row, :3]) == [5, 6, 0]
    assert (model.spad[22:24] == 0xAAAA).all()
