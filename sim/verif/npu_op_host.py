"""The firmware's layer planners compiled for the host, against the Python planners: the
harness of the C-versus-Python tests (tests/firmware/test_npu_conv.py, test_npu_conv_pack.py,
test_npu_pool.py, test_npu_add.py).

:func:`op_library` compiles the C planners (firmware/npu/npu_conv.c, npu_conv_pack.c,
npu_pool.c, npu_add.c, npu_maxpool.c, npu_add_int8.c on the walk engine npu_walk*.c) with the
generated headers of a variant and a shim of flat-array entry points (``conv``, ``pool``,
``maxpool``, ``add``, ``add_int8``, ``set_info``, ``set_listed``, ``div64``); :class:`Buffers`
holds one call's list and parameter buffers and checks them word for word and byte for byte
against a Python program (or that both refuse); the ``*_case`` functions plan one random
layer both ways.
"""

import ctypes

import numpy as np
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode

from dure.config import SoCConfig, preset

from .. import conv_plan, eltwise_plan, pool_plan
from ..golden_tflite_params import add_params as tflite_add_params
from .host_c import FIRMWARE, host_library

__all__ = ["SOURCES", "SHIM", "CONFIGS", "X_ADDR", "OUT_ADDR", "PARAM_ADDR", "LIST_CAP",
           "PARAM_CAP", "op_library", "ptr", "Buffers", "set_info", "try_plan", "post_int8",
           "post_fp16", "random_shape", "conv_case", "pool_case", "add_case",
           "float_scale_case", "count_notes", "eltwise_macs", "add_params"]

NPU_FIRMWARE = FIRMWARE / "npu"
#: The firmware's layer planners (C) the harness compiles.
SOURCES = [NPU_FIRMWARE / name
           for name in ("npu_walk_plan.c", "npu_walk_waves.c", "npu_walk_emit.c",
                        "npu_walk_cmds.c", "npu_walk_stream.c", "npu_op_util.c", "npu_conv.c",
                        "npu_conv_pack.c",
                        "npu_pool.c", "npu_add.c", "npu_maxpool.c", "npu_add_int8.c")]
#: C entry points taking flat arrays, for ctypes.
SHIM = r"""
#include "npu_walk.h"
uint64_t div64(uint64_t a, uint32_t b) { return walk_div64(a, b); }
static struct npu_info info;
const struct npu_info *npu_get_info(void) { return &info; }
void set_info(uint32_t r, uint32_t c, uint32_t s, uint32_t a, uint32_t fp16, uint32_t rh)
{ info.rows = r; info.cols = c; info.lanes = r > c ? r : c; info.spad_rows = s;
  info.acc_rows = a; info.fp16 = fp16; info.row_hazard = rh; }
static void mem(struct npu_op_mem *m, const uint32_t *addr, void *param, uint32_t cap)
{ m->x_addr = addr[0]; m->out_addr = addr[1]; m->param_addr = addr[2]; m->param = param;
  m->param_cap = cap; }
static void post(struct npu_op_post *p, const int32_t *q)
{ p->output_zero_point = q[0]; p->lo = q[1]; p->hi = q[2]; p->clamp = q[3];
  p->flo = (uint32_t)q[4]; p->fhi = (uint32_t)q[5]; }
/* npu_op_conv's listed for the next conv calls (0: pushed) */
static int listed;
void set_listed(int on) { listed = on; }
/* s: prec, n, h, w, cin, cout, kh, kw, sh, sw, padding, dilation, depth_multiplier, zi */
int conv(int depthwise, const int32_t *s, const void *w, const void *bias, const int32_t *mult,
         const int32_t *shift, const uint32_t *scale, const int32_t *q, const uint32_t *addr,
         void *param, uint32_t param_cap, uint32_t *list, uint32_t cap)
{
    struct npu_op_conv op = {0};
    op.prec = s[0]; op.n = s[1]; op.h = s[2]; op.w = s[3]; op.cin = s[4]; op.cout = s[5];
    op.kh = s[6]; op.kw = s[7]; op.stride_h = s[8]; op.stride_w = s[9]; op.padding = s[10];
    op.dilation_h = op.dilation_w = s[11]; op.depth_multiplier = s[12];
    op.input_zero_point = s[13]; op.listed = listed;
    op.weights = w; op.bias = bias; op.multiplier = mult; op.shift = shift; op.scale = scale;
    post(&op.post, q);
    mem(&op.mem, addr, param, param_cap);
    return depthwise ? npu_op_depthwise(&op, list, cap) : npu_op_conv2d(&op, list, cap);
}
static void pool_op(struct npu_op_pool *op, const int32_t *s, const int32_t *q,
                    const uint32_t *addr, void *param, uint32_t param_cap)
{
    op->prec = s[0]; op->n = s[1]; op->h = s[2]; op->w = s[3]; op->c = s[4];
    op->kh = s[6]; op->kw = s[7]; op->stride_h = s[8]; op->stride_w = s[9];
    op->padding = s[10];
    post(&op->post, q);
    mem(&op->mem, addr, param, param_cap);
}
int pool(const int32_t *s, const int32_t *q, const uint32_t *addr, void *param,
         uint32_t param_cap, uint32_t *list, uint32_t cap)
{
    struct npu_op_pool op = {0};
    pool_op(&op, s, q, addr, param, param_cap);
    return npu_op_avgpool(&op, list, cap);
}
int add(uint32_t elements, uint32_t a, uint32_t b, const int32_t *q, const uint32_t *addr,
        void *param, uint32_t param_cap, uint32_t *list, uint32_t cap)
{
    struct npu_op_add op = {0};
    op.elements = elements; op.a_addr = a; op.b_addr = b;
    post(&op.post, q);
    mem(&op.mem, addr, param, param_cap);
    return npu_op_add_fp16(&op, list, cap);
}
int maxpool(const int32_t *s, const int32_t *q, const uint32_t *addr, void *param,
            uint32_t param_cap, uint32_t *list, uint32_t cap)
{
    struct npu_op_pool op = {0};
    pool_op(&op, s, q, addr, param, param_cap);
    return npu_op_maxpool(&op, list, cap);
}
/* p: elements, a, b, zp1, zp2, left_shift, m1, s1, m2, s2, mo, so */
int add_int8(const int32_t *p, const int32_t *q, const uint32_t *addr, void *param,
             uint32_t param_cap, uint32_t *list, uint32_t cap)
{
    struct npu_op_add_int8 op = {0};
    op.elements = (uint32_t)p[0]; op.a_addr = (uint32_t)p[1]; op.b_addr = (uint32_t)p[2];
    op.input1_zero_point = p[3]; op.input2_zero_point = p[4]; op.left_shift = p[5];
    op.input1_multiplier = p[6]; op.input1_shift = p[7];
    op.input2_multiplier = p[8]; op.input2_shift = p[9];
    op.output_multiplier = p[10]; op.output_shift = p[11];
    post(&op.post, q);
    mem(&op.mem, addr, param, param_cap);
    return npu_op_add_int8(&op, list, cap);
}
"""

#: The NPU shapes the comparisons run on.
CONFIGS = {"8x8": preset("sim"), "4x4": preset("npu-small"),
           "4x8": SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=256, npu_acc_rows=128)}
X_ADDR, OUT_ADDR, PARAM_ADDR = 0x8000_1000, 0x8010_0000, 0x8020_0000
LIST_CAP = 60_000
PARAM_CAP = 1 << 20


def op_library(directory, variant):
    """The planners compiled into ``directory`` with ``variant``'s generated headers (ctypes)."""
    return host_library(directory, "ops", SOURCES, extra_sources={"shim.c": SHIM},
                        include_dirs=[NPU_FIRMWARE], variant=variant)


def ptr(a):
    """A ctypes pointer to ``a``'s data (None for None)."""
    return None if a is None else np.ascontiguousarray(a).ctypes.data_as(ctypes.c_void_p)


class Buffers:
    """The list and parameter buffers of one C call, and the comparison with a program."""

    def __init__(self):
        self.list = np.zeros(8 * LIST_CAP, np.uint32)
        self.param = np.zeros(PARAM_CAP, np.uint8)
        self.addr = np.array([X_ADDR, OUT_ADDR, PARAM_ADDR], np.uint32)

    def args(self):
        return (ptr(self.addr), ptr(self.param), PARAM_CAP, ptr(self.list), LIST_CAP)

    def check(self, count, program, what):
        if program is None:
            assert count < 0, f"{what}: C accepts what Python refuses"
            return False
        assert count > 0, f"{what}: C refuses ({count}) what Python plans"
        want = np.asarray(program.descriptors, np.uint32)
        got = self.list[:8 * count].reshape(count, 8)
        assert got.shape == want.shape, f"{what}: {count} descriptors, Python {len(want)}"
        bad = np.nonzero((got != want).any(axis=1))[0]
        assert not len(bad), (f"{what}: descriptor {bad[0]} differs: C {list(got[bad[0]])} "
                              f"Python {list(want[bad[0]])}")
        image = np.zeros(PARAM_CAP, np.uint8)
        for addr, data in program.blobs:
            image[addr - PARAM_ADDR:addr - PARAM_ADDR + len(data)] = np.frombuffer(data, np.uint8)
        end = max((a - PARAM_ADDR + len(d) for a, d in program.blobs), default=0)
        assert np.array_equal(self.param[:end], image[:end]), f"{what}: parameter bytes differ"
        return True


def set_info(lib, config):
    """Tell the library's ``npu_get_info`` the NPU shape of ``config`` (and its
    ``npu_row_hazard``, which the walk planner's tap order follows)."""
    lib.set_info(config.npu_rows, config.npu_cols, config.npu_spad_rows, config.npu_acc_rows,
                 int(config.npu_fp16), int(getattr(config, "npu_row_hazard", False)))


def try_plan(fn, *args, **kw):
    """``fn(*args, **kw)``, or None when the planner refuses (``ValueError``)."""
    try:
        return fn(*args, **kw)
    except ValueError:
        return None


def post_int8(rng):
    """(zero point, lo, hi) of an INT8 output, now and then one the planners refuse."""
    lo, hi = sorted(rng.integers(-128, 128, 2)) if rng.random() < 0.5 else (-128, 127)
    if rng.random() < 0.03:
        lo, hi = hi + 1, lo               # refused: lo > hi
    zo = int(rng.integers(-128, 128)) if rng.random() > 0.03 else 200
    return zo, int(lo), int(hi)


def post_fp16(rng):
    """(lo, hi) for Python (None: open) and the C clamp words."""
    choice = rng.integers(0, 4)
    lo = hi = None
    if choice == 1:
        lo = 0.0
    elif choice == 2:
        lo, hi = -1.5, 6.0
    elif choice == 3:
        lo, hi = (2.0, 1.0) if rng.random() < 0.2 else (-0.0, 0.0)
    bits = [int(np.float32(v).view(np.uint32)) for v in
            (-np.inf if lo is None else lo, np.inf if hi is None else hi)]
    clamp = int(lo is not None or hi is not None)
    return lo, hi, clamp, [b - (1 << 32) if b >> 31 else b for b in bits]


def random_shape(rng, depthwise=False):
    """``(n, h, w, cin, cout, kh, kw, stride, padding)`` of a random layer."""
    kh, kw = int(rng.integers(1, 11)), int(rng.integers(1, 5))
    n = int(rng.integers(1, 3))
    h, w = int(rng.integers(1, 13)), int(rng.integers(1, 11))
    cin = int(rng.integers(1, 41))
    cout = cin if depthwise else int(rng.integers(1, 41))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = "SAME" if rng.random() < 0.6 else "VALID"
    return n, h, w, cin, cout, kh, kw, stride, padding


def conv_case(lib, bufs, config, rng, depthwise, shape=None, fp16=None, listed=False):
    """One random convolution (or depthwise) layer, INT8 or FP16, planned by C and by Python;
    True when both planned it (same list), False when both refused it. ``shape``: ``(n, h,
    w, cin, cout, kh, kw, stride, padding)`` instead of a random one (then dilation 1, and
    INT8 unless ``fp16``). ``listed``: an INT8 convolution planned to run as one LIST
    (conv_plan's ``listed``, struct npu_op_conv's)."""
    n, h, w, cin, cout, kh, kw, stride, padding = shape or random_shape(rng, depthwise)
    if fp16 is None:
        fp16 = config.npu_fp16 and rng.random() < 0.5 and shape is None
    dil = 1 if rng.random() > 0.02 or shape is not None else 2
    shape = (1, kh, kw, cin) if depthwise else (cout, kh, kw, cin)
    zi = int(rng.integers(-128, 128)) if rng.random() > 0.02 else -129
    common = dict(stride=stride, padding=padding, dilation=dil, x_addr=X_ADDR,
                  out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
    s = [int(fp16), n, h, w, cin, cout, kh, kw, stride[0], stride[1],
         0 if padding == "SAME" else 1, dil, 1, zi]
    if fp16:
        wt = rng.standard_normal(shape).astype(np.float16)
        bias = rng.standard_normal(cout).astype(np.float32) if rng.random() < 0.7 else None
        scale = rng.uniform(0.5, 2, cout).astype(np.float32) if rng.random() < 0.5 else None
        lo, hi, clamp, bits = post_fp16(rng)
        fn = (conv_plan.depthwise_conv2d_fp16_program if depthwise else
              conv_plan.conv2d_fp16_program)
        program = try_plan(fn, config, (n, h, w, cin), wt, bias, scale=scale, lo=lo, hi=hi,
                        **common)
        q = [0, 0, 0, clamp, *bits]
        mult = shift = None
    else:
        wt = rng.integers(-128, 128, shape, dtype=np.int8)
        bias = rng.integers(-5000, 5000, cout, dtype=np.int32) if rng.random() < 0.8 else None
        mult = rng.integers(1 << 30, (1 << 31) - 1, cout, dtype=np.int64).astype(np.int32)
        shift = rng.integers(-12, 3, cout).astype(np.int32)
        if rng.random() < 0.03:
            shift[-1] = 31                    # refused: outside [-31, 30]
        zo, lo, hi = post_int8(rng)
        fn = (conv_plan.depthwise_conv2d_int8_program if depthwise else
              conv_plan.conv2d_int8_program)
        extra = {} if depthwise else {"listed": listed}
        program = try_plan(fn, config, (n, h, w, cin), wt, bias, input_zero_point=zi,
                        output_zero_point=zo, multiplier=mult, shift=shift, lo=lo, hi=hi,
                        **common, **extra)
        q = [zo, lo, hi, 0, 0, 0]
        scale = None
    lib.set_listed(int(listed))
    try:
        count = lib.conv(int(depthwise), ptr(np.array(s, np.int32)), ptr(wt), ptr(bias),
                         ptr(mult), ptr(shift), ptr(scale), ptr(np.array(q, np.int32)),
                         *bufs.args())
    finally:
        lib.set_listed(0)
    what = (f"{'depthwise' if depthwise else 'conv'} {'fp16' if fp16 else 'int8'} "
            f"x={(n, h, w, cin)} cout={cout} k={(kh, kw)} s={stride} {padding} dil={dil}")
    return bufs.check(count, program, what)


def pool_case(lib, bufs, config, rng, kind="avg"):
    """One random pooling layer (``kind`` "avg": a quarter of them global; "max": windows up
    to 5 rows) planned by C and by Python."""
    n, h, w, c, _, kh, kw, stride, padding = random_shape(rng, True)
    if kind == "max":
        kh = min(kh, 5)
    elif rng.random() < 0.25:                 # global pooling
        kh, kw, stride, padding = h, w, (1, 1), "VALID"
    fp16 = config.npu_fp16 and rng.random() < 0.5
    s = [int(fp16), n, h, w, c, c, kh, kw, stride[0], stride[1], 0 if padding == "SAME" else 1]
    common = dict(stride=stride, padding=padding, x_addr=X_ADDR, out_addr=OUT_ADDR,
                  param_addr=PARAM_ADDR)
    op = "average" if kind == "avg" else "max"
    planner = getattr(pool_plan, f"{op}_pool_{'fp16' if fp16 else 'int8'}_program")
    if fp16:
        lo, hi, clamp, bits = post_fp16(rng)
        q = [0, 0, 0, clamp, *bits]
    else:
        _, lo, hi = post_int8(rng)
        q = [0, lo, hi, 0, 0, 0]
    program = try_plan(planner, config, (n, h, w, c), (kh, kw), lo=lo, hi=hi, **common)
    entry = lib.pool if kind == "avg" else lib.maxpool
    count = entry(ptr(np.array(s, np.int32)), ptr(np.array(q, np.int32)), *bufs.args())
    return bufs.check(count, program, f"{kind}pool {'fp16' if fp16 else 'int8'} "
                                      f"x={(n, h, w, c)} k={(kh, kw)} s={stride} {padding}")


def add_case(lib, bufs, config, rng):
    """One random FP16 ADD planned by C and by Python (as :func:`conv_case`)."""
    shape = tuple(int(d) for d in rng.integers(1, 40, rng.integers(1, 4)))
    if rng.random() < 0.2:
        shape = (int(rng.integers(2000, 9000)),)
    lo, hi, clamp, bits = post_fp16(rng)
    a_addr, b_addr = 0x8000_0000, 0x8008_0000
    program = try_plan(eltwise_plan.add_fp16_program, config, shape, lo=lo, hi=hi, a_addr=a_addr,
                    b_addr=b_addr, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
    q = np.array([0, 0, 0, clamp, *bits], np.int32)
    count = lib.add(int(np.prod(shape)), ctypes.c_uint32(a_addr), ctypes.c_uint32(b_addr), ptr(q),
                    *bufs.args())
    return bufs.check(count, program, f"add fp16 {shape} clamp={(lo, hi)}")


def count_notes(program, word):
    """Whether a note of ``program`` (None: refused) mentions ``word``."""
    return program is not None and any(word in note for note in program.notes)


def eltwise_macs(program, pair):
    """Whether ``program`` has an ELTWISE MAC with (without) ``pair``."""
    if program is None:
        return False
    for words in program.descriptors:
        opcode, f = decode(list(words))
        if opcode == Opcode.ELTWISE and f["mac"] and f["pair"] == int(pair):
            return True
    return False


def float_scale_case(lib, bufs, config, rng, depthwise):
    """One random INT8 convolution (or depthwise) with the float-scale requantization planned
    by C and by Python: ``(planned, packed taps)``."""
    n, h, w, cin, cout, kh, kw, stride, padding = random_shape(rng, depthwise)
    if rng.random() < 0.3 and not depthwise:
        cin, kw = 1, min(kw, 3)                                        # packed taps
    shape = (1, kh, kw, cin) if depthwise else (cout, kh, kw, cin)
    wt = rng.integers(-128, 128, shape, dtype=np.int8)
    bias = rng.integers(-5000, 5000, cout, dtype=np.int32) if rng.random() < 0.8 else None
    scale = rng.uniform(1e-4, 1e-2, cout).astype(np.float32)
    if rng.random() < 0.05:
        scale[0] = np.inf                                              # refused
    zi = int(rng.integers(-128, 128))
    zo, lo, hi = post_int8(rng)
    fn = (conv_plan.depthwise_conv2d_int8_float_scale_program if depthwise else
          conv_plan.conv2d_int8_float_scale_program)
    program = try_plan(fn, config, (n, h, w, cin), wt, bias, input_zero_point=zi,
                    output_zero_point=zo, scale=scale, stride=stride, padding=padding, lo=lo,
                    hi=hi, x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
    s = [0, n, h, w, cin, cout, kh, kw, stride[0], stride[1], 0 if padding == "SAME" else 1,
         1, 1, zi]
    count = lib.conv(int(depthwise), ptr(np.array(s, np.int32)), ptr(wt), ptr(bias), None,
                     None, ptr(scale.view(np.uint32)),
                     ptr(np.array([zo, lo, hi, 0, 0, 0], np.int32)), *bufs.args())
    return bufs.check(count, program, f"float-scale {'depthwise' if depthwise else 'conv'} "
                                      f"x={(n, h, w, cin)} cout={cout} k={(kh, kw)} s={stride} "
                                      f"{padding}"), count_notes(program, "packed")


def add_params(rng):
    """TFLite ADD parameters of random input and output scales."""
    s1, s2 = (float(v) for v in rng.uniform(0.005, 0.1, 2))
    return tflite_add_params(s1, s2, float(rng.uniform(0.01, 0.2)))
