"""The firmware's layer operators (firmware/npu/npu_conv.c, npu_conv_pack.c, npu_pool.c,
npu_add.c, npu_maxpool.c, npu_add_int8.c on the walk engine npu_walk.c; INT8 convolutions in
both requantization modes, TFLite and float-scale),
compiled for the host with the generated headers, write the descriptor list and the parameter
bytes of the Python planners (sim/conv_plan.py, sim/pool_plan.py, sim/eltwise_plan.py) word for
word and byte for byte, on many random layers of both precisions on an 8x8 and a 4x4 NPU, and
refuse exactly the layers those refuse."""

import ctypes
import pathlib

import numpy as np
import pytest
from dure.rtl.npu.commands import Opcode, Precision
from dure.rtl.npu.descriptor import decode
from dure.sim import conv_plan, eltwise_plan, pool_plan
from dure.sim.verif.host_c import host_library
from dure.sim.walk_emit import PIECE_ROWS

from dure.config import SoCConfig, preset
from dure.gemm_cost import WALK_MODEL

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "firmware" / "npu" / name
           for name in ("npu_walk_plan.c", "npu_walk_waves.c", "npu_walk_emit.c",
                        "npu_walk_cmds.c", "npu_walk_stream.c", "npu_op_util.c", "npu_conv.c",
                        "npu_conv_pack.c",
                        "npu_pool.c", "npu_add.c", "npu_maxpool.c", "npu_add_int8.c")]
SHIM = r"""
#include "npu_walk.h"
uint64_t div64(uint64_t a, uint32_t b) { return walk_div64(a, b); }
static struct npu_info info;
const struct npu_info *npu_get_info(void) { return &info; }
void set_info(uint32_t r, uint32_t c, uint32_t s, uint32_t a, uint32_t fp16)
{ info.rows = r; info.cols = c; info.lanes = r > c ? r : c; info.spad_rows = s;
  info.acc_rows = a; info.fp16 = fp16; }
static void mem(struct npu_op_mem *m, const uint32_t *addr, void *param, uint32_t cap)
{ m->x_addr = addr[0]; m->out_addr = addr[1]; m->param_addr = addr[2]; m->param = param;
  m->param_cap = cap; }
static void post(struct npu_op_post *p, const int32_t *q)
{ p->output_zero_point = q[0]; p->lo = q[1]; p->hi = q[2]; p->clamp = q[3];
  p->flo = (uint32_t)q[4]; p->fhi = (uint32_t)q[5]; }
/* s: prec, n, h, w, cin, cout, kh, kw, sh, sw, padding, dilation, depth_multiplier, zi */
int conv(int depthwise, const int32_t *s, const void *w, const void *bias, const int32_t *mult,
         const int32_t *shift, const uint32_t *scale, const int32_t *q, const uint32_t *addr,
         void *param, uint32_t param_cap, uint32_t *list, uint32_t cap)
{
    struct npu_op_conv op = {0};
    op.prec = s[0]; op.n = s[1]; op.h = s[2]; op.w = s[3]; op.cin = s[4]; op.cout = s[5];
    op.kh = s[6]; op.kw = s[7]; op.stride_h = s[8]; op.stride_w = s[9]; op.padding = s[10];
    op.dilation_h = op.dilation_w = s[11]; op.depth_multiplier = s[12];
    op.input_zero_point = s[13];
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

CONFIGS = {"8x8": preset("sim"), "4x4": preset("npu-small"),
           "4x8": SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=256, npu_acc_rows=128)}
X_ADDR, OUT_ADDR, PARAM_ADDR = 0x8000_1000, 0x8010_0000, 0x8020_0000
LIST_CAP = 60_000
PARAM_CAP = 1 << 20


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return host_library(tmp_path_factory.mktemp("npu_conv"), "ops", SOURCES,
                        extra_sources={"shim.c": SHIM}, include_dirs=[ROOT / "firmware" / "npu"],
                        variant=preset("sim"))


def _ptr(a):
    return None if a is None else np.ascontiguousarray(a).ctypes.data_as(ctypes.c_void_p)


class Buffers:
    """The list and parameter buffers of one C call, and the comparison with a program."""

    def __init__(self):
        self.list = np.zeros(8 * LIST_CAP, np.uint32)
        self.param = np.zeros(PARAM_CAP, np.uint8)
        self.addr = np.array([X_ADDR, OUT_ADDR, PARAM_ADDR], np.uint32)

    def args(self):
        return (_ptr(self.addr), _ptr(self.param), PARAM_CAP, _ptr(self.list), LIST_CAP)

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


def _set(lib, config):
    lib.set_info(config.npu_rows, config.npu_cols, config.npu_spad_rows, config.npu_acc_rows,
                 int(config.npu_fp16))


def _plan(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except ValueError:
        return None


def _post_int8(rng):
    lo, hi = sorted(rng.integers(-128, 128, 2)) if rng.random() < 0.5 else (-128, 127)
    if rng.random() < 0.03:
        lo, hi = hi + 1, lo               # refused: lo > hi
    zo = int(rng.integers(-128, 128)) if rng.random() > 0.03 else 200
    return zo, int(lo), int(hi)


def _post_fp16(rng):
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


def _random_shape(rng, depthwise=False):
    kh, kw = int(rng.integers(1, 11)), int(rng.integers(1, 5))
    n = int(rng.integers(1, 3))
    h, w = int(rng.integers(1, 13)), int(rng.integers(1, 11))
    cin = int(rng.integers(1, 41))
    cout = cin if depthwise else int(rng.integers(1, 41))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = "SAME" if rng.random() < 0.6 else "VALID"
    return n, h, w, cin, cout, kh, kw, stride, padding


def _conv_case(lib, bufs, config, rng, depthwise):
    n, h, w, cin, cout, kh, kw, stride, padding = _random_shape(rng, depthwise)
    fp16 = config.npu_fp16 and rng.random() < 0.5
    dil = 1 if rng.random() > 0.02 else 2
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
        lo, hi, clamp, bits = _post_fp16(rng)
        fn = (conv_plan.depthwise_conv2d_fp16_program if depthwise else
              conv_plan.conv2d_fp16_program)
        program = _plan(fn, config, (n, h, w, cin), wt, bias, scale=scale, lo=lo, hi=hi,
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
        zo, lo, hi = _post_int8(rng)
        fn = (conv_plan.depthwise_conv2d_int8_program if depthwise else
              conv_plan.conv2d_int8_program)
        program = _plan(fn, config, (n, h, w, cin), wt, bias, input_zero_point=zi,
                        output_zero_point=zo, multiplier=mult, shift=shift, lo=lo, hi=hi,
                        **common)
        q = [zo, lo, hi, 0, 0, 0]
        scale = None
    count = lib.conv(int(depthwise), _ptr(np.array(s, np.int32)), _ptr(wt), _ptr(bias),
                     _ptr(mult), _ptr(shift), _ptr(scale), _ptr(np.array(q, np.int32)),
                     *bufs.args())
    what = (f"{'depthwise' if depthwise else 'conv'} {'fp16' if fp16 else 'int8'} "
            f"x={(n, h, w, cin)} cout={cout} k={(kh, kw)} s={stride} {padding} dil={dil}")
    return bufs.check(count, program, what)


def _pool_case(lib, bufs, config, rng, kind="avg"):
    """One random pooling layer (``kind`` "avg": a quarter of them global; "max": windows up
    to 5 rows) planned by C and by Python."""
    n, h, w, c, _, kh, kw, stride, padding = _random_shape(rng, True)
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
        lo, hi, clamp, bits = _post_fp16(rng)
        q = [0, 0, 0, clamp, *bits]
    else:
        _, lo, hi = _post_int8(rng)
        q = [0, lo, hi, 0, 0, 0]
    program = _plan(planner, config, (n, h, w, c), (kh, kw), lo=lo, hi=hi, **common)
    entry = lib.pool if kind == "avg" else lib.maxpool
    count = entry(_ptr(np.array(s, np.int32)), _ptr(np.array(q, np.int32)), *bufs.args())
    return bufs.check(count, program, f"{kind}pool {'fp16' if fp16 else 'int8'} "
                                      f"x={(n, h, w, c)} k={(kh, kw)} s={stride} {padding}")


def _add_case(lib, bufs, config, rng):
    shape = tuple(int(d) for d in rng.integers(1, 40, rng.integers(1, 4)))
    if rng.random() < 0.2:
        shape = (int(rng.integers(2000, 9000)),)
    lo, hi, clamp, bits = _post_fp16(rng)
    a_addr, b_addr = 0x8000_0000, 0x8008_0000
    program = _plan(eltwise_plan.add_fp16_program, config, shape, lo=lo, hi=hi, a_addr=a_addr,
                    b_addr=b_addr, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
    q = np.array([0, 0, 0, clamp, *bits], np.int32)
    count = lib.add(int(np.prod(shape)), ctypes.c_uint32(a_addr), ctypes.c_uint32(b_addr), _ptr(q),
                    *bufs.args())
    return bufs.check(count, program, f"add fp16 {shape} clamp={(lo, hi)}")


def test_the_c_port_uses_the_generated_constants():
    text = "".join(p.read_text() for p in SOURCES)
    for name in WALK_MODEL:
        # MAC_PIXELS: only conv_plan's pair=False choice (the C port always pairs taps)
        if name not in ("POOL_MAX_WINDOW", "MAC_PIXELS"):
            assert f"DURE_NPU_WALK_{name}" in text, name
        assert f"#define {name}" not in text


@pytest.mark.parametrize("config_name", list(CONFIGS))
@pytest.mark.parametrize("seed", [1, 2])
def test_c_and_python_write_the_same_lists(lib, config_name, seed):
    config = CONFIGS[config_name]
    _set(lib, config)
    rng = np.random.default_rng(seed)
    bufs = Buffers()
    planned = refused = 0
    for i in range(60):
        kind = i % 4
        if kind == 0:
            ok = _conv_case(lib, bufs, config, rng, False)
        elif kind == 1:
            ok = _conv_case(lib, bufs, config, rng, True)
        elif kind == 2:
            ok = _pool_case(lib, bufs, config, rng)
        else:
            ok = _add_case(lib, bufs, config, rng)
        planned += ok
        refused += not ok
    assert planned > 30


def test_fixed_layers_of_the_benchmark(lib):
    """The benchmark's layers (sim/npu_bench.py LAYERS) on the 8x8 NPU, both precisions."""
    from dure.sim.npu_bench import LAYERS, layer_operands

    config = CONFIGS["8x8"]
    _set(lib, config)
    bufs = Buffers()
    for name, op, x_shape, cout, kernel, stride, padding, _ in LAYERS:
        if op not in ("conv", "depthwise", "avgpool"):
            continue    # ADD and MAX_POOL rows: test_int8_add_..., test_max_pooling_...
        for precision in ("int8", "fp16"):
            spec = layer_operands(op, x_shape, cout, kernel, precision, 0)
            fp16 = precision == "fp16"
            s = [int(fp16), *x_shape, cout, *kernel, stride, stride,
                 0 if padding == "SAME" else 1, 1, 1, spec.get("input_zero_point", 0)]
            if op == "avgpool":
                fn = getattr(pool_plan, f"average_pool_{precision}_program")
                program = fn(config, x_shape, kernel, stride=stride, padding=padding,
                             x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
                q = [0, -128, 127, 0, 0, 0]
                count = lib.pool(_ptr(np.array(s, np.int32)), _ptr(np.array(q, np.int32)),
                                 *bufs.args())
            else:
                base = "depthwise_conv2d" if op == "depthwise" else "conv2d"
                fn = getattr(conv_plan, f"{base}_{precision}_program")
                extra = {} if fp16 else dict(
                    input_zero_point=spec["input_zero_point"],
                    output_zero_point=spec["output_zero_point"],
                    multiplier=spec["multiplier"], shift=spec["shift"])
                program = fn(config, x_shape, spec["w"], spec["bias"], stride=stride,
                             padding=padding, x_addr=X_ADDR, out_addr=OUT_ADDR,
                             param_addr=PARAM_ADDR, **extra)
                q = [0, 0, 0, 0, 0, 0] if fp16 else [spec["output_zero_point"], -128, 127, 0,
                                                     0, 0]
                mult = None if fp16 else np.broadcast_to(
                    np.asarray(spec["multiplier"], np.int32), (cout,)).copy()
                shift = None if fp16 else np.broadcast_to(
                    np.asarray(spec["shift"], np.int32), (cout,)).copy()
                count = lib.conv(int(op == "depthwise"), _ptr(np.array(s, np.int32)),
                                 _ptr(spec["w"]), _ptr(spec["bias"]), _ptr(mult), _ptr(shift),
                                 None, _ptr(np.array(q, np.int32)), *bufs.args())
            assert bufs.check(count, program, f"{name} {precision}")


@pytest.mark.parametrize("cin, kernel", [(6, (3, 3)), (1, (5, 2))])     # walked, packed
def test_count_only_and_small_buffers(lib, cin, kernel):
    """list NULL gives the capacity a call needs; one descriptor less is refused."""
    config = CONFIGS["4x4"]
    _set(lib, config)
    rng = np.random.default_rng(5)
    wt = rng.integers(-128, 128, (12, *kernel, cin), dtype=np.int8)
    s = np.array([0, 1, 9, 7, cin, 12, *kernel, 1, 1, 0, 1, 1, 3], np.int32)
    mult = np.full(12, 1 << 30, np.int32)
    shift = np.full(12, -8, np.int32)
    q = np.array([1, -128, 127, 0, 0, 0], np.int32)
    bufs = Buffers()
    args = (0, _ptr(s), _ptr(wt), None, _ptr(mult), _ptr(shift), None, _ptr(q))
    need = lib.conv(*args, _ptr(bufs.addr), None, 0, None, 0)
    count = lib.conv(*args, *bufs.args())
    assert 0 < count <= need
    assert lib.conv(*args, _ptr(bufs.addr), _ptr(bufs.param), PARAM_CAP, _ptr(bufs.list),
                    need) == count
    assert lib.conv(*args, _ptr(bufs.addr), _ptr(bufs.param), PARAM_CAP, _ptr(bufs.list),
                    count - 1) < 0
    assert lib.conv(*args, _ptr(bufs.addr), _ptr(bufs.param), 16, _ptr(bufs.list),
                    LIST_CAP) < 0
    program = conv_plan.conv2d_int8_program(
        config, (1, 9, 7, cin), wt, None, input_zero_point=3, output_zero_point=1,
        multiplier=mult, shift=shift, x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
    assert count == len(program.descriptors)
    assert _count_notes(program, "packed") == (cin == 1)
    assert Precision.INT8.value == 0


def _count_notes(program, word):
    return program is not None and any(word in note for note in program.notes)


def _macs(program, pair):
    """Whether ``program`` has an ELTWISE MAC with (without) ``pair``."""
    if program is None:
        return False
    for words in program.descriptors:
        opcode, f = decode(list(words))
        if opcode == Opcode.ELTWISE and f["mac"] and f["pair"] == int(pair):
            return True
    return False


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_small_cin_convolutions_pack_as_python(lib, config_name):
    """INT8 convolutions with few input channels (DS-CNN's 10x4 first layer has Cin = 1): the
    tap-packed plan of dure.sim.conv_pack, word for word, on random kernels, strides, paddings,
    batches and output channels (several chunks, so the passes and their side commands)."""
    config = CONFIGS[config_name]
    _set(lib, config)
    rng = np.random.default_rng(11)
    bufs = Buffers()
    packed = 0
    for _ in range(40):
        r = config.npu_rows
        cin = int(rng.integers(1, r // 2 + 1))              # two kernel rows fit the lanes
        kh, kw = int(rng.integers(2, 11)), int(rng.integers(1, r // (2 * cin) + 1))
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(kh, kh + 12)), int(rng.integers(1, 12))
        cout = int(rng.integers(1, 6 * config.npu_cols))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = "SAME" if rng.random() < 0.6 else "VALID"
        wt = rng.integers(-128, 128, (cout, kh, kw, cin), dtype=np.int8)
        bias = rng.integers(-5000, 5000, cout, dtype=np.int32)
        mult = rng.integers(1 << 30, (1 << 31) - 1, cout, dtype=np.int64).astype(np.int32)
        shift = rng.integers(-12, 3, cout).astype(np.int32)
        zi, zo = (int(v) for v in rng.integers(-128, 128, 2))
        program = _plan(conv_plan.conv2d_int8_program, config, (n, h, w, cin), wt, bias,
                        input_zero_point=zi, output_zero_point=zo, multiplier=mult,
                        shift=shift, stride=stride, padding=padding, x_addr=X_ADDR,
                        out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        s = [0, n, h, w, cin, cout, kh, kw, stride[0], stride[1],
             0 if padding == "SAME" else 1, 1, 1, zi]
        count = lib.conv(0, _ptr(np.array(s, np.int32)), _ptr(wt), _ptr(bias), _ptr(mult),
                         _ptr(shift), None, _ptr(np.array([zo, -128, 127, 0, 0, 0], np.int32)),
                         *bufs.args())
        bufs.check(count, program, f"conv int8 x={(n, h, w, cin)} cout={cout} k={(kh, kw)} "
                                   f"s={stride} {padding}")
        packed += _count_notes(program, "packed")
    assert packed >= 20


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_small_cin_fp16_convolutions_pack_as_python(lib, config_name):
    """FP16 convolutions with few input channels take the packed plan too (its diagonal
    gather onto -0.0 and per-tap STOREs): the same stream and parameter bytes, with and without
    bias, scale and clamp."""
    config = CONFIGS[config_name]
    _set(lib, config)
    rng = np.random.default_rng(12)
    bufs = Buffers()
    packed = 0
    for _ in range(30):
        r = config.npu_rows
        cin = int(rng.integers(1, r // 2 + 1))
        kh, kw = int(rng.integers(2, 11)), int(rng.integers(1, r // (2 * cin) + 1))
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(kh, kh + 12)), int(rng.integers(1, 12))
        cout = int(rng.integers(1, 6 * config.npu_cols))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = "SAME" if rng.random() < 0.6 else "VALID"
        wt = rng.standard_normal((cout, kh, kw, cin)).astype(np.float16)
        bias = rng.standard_normal(cout).astype(np.float32) if rng.random() < 0.6 else None
        scale = rng.uniform(0.5, 2, cout).astype(np.float32) if rng.random() < 0.5 else None
        lo, hi, clamp, bits = _post_fp16(rng)
        program = _plan(conv_plan.conv2d_fp16_program, config, (n, h, w, cin), wt, bias,
                        scale=scale, lo=lo, hi=hi, stride=stride, padding=padding,
                        x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        s = [1, n, h, w, cin, cout, kh, kw, stride[0], stride[1],
             0 if padding == "SAME" else 1, 1, 1, 0]
        count = lib.conv(0, _ptr(np.array(s, np.int32)), _ptr(wt), _ptr(bias), None, None,
                         _ptr(scale), _ptr(np.array([0, 0, 0, clamp, *bits], np.int32)),
                         *bufs.args())
        bufs.check(count, program, f"conv fp16 x={(n, h, w, cin)} cout={cout} k={(kh, kw)} "
                                   f"s={stride} {padding}")
        packed += _count_notes(program, "packed")
    assert packed >= 15


@pytest.mark.parametrize("config_name", ["8x8", "4x4"])
def test_depthwise_and_global_pooling_take_every_stream(lib, config_name):
    """INT8 depthwise on the element-wise unit (pair MACs, a single MAC for an odd window's
    last tap; the diagonal COMPUTEs: test_an_npu_without_the_element_wise_unit) and FP16
    depthwise; global average pooling on the element-wise MAC (INT8) and on the array (FP16),
    batches and many chunks."""
    config = CONFIGS[config_name]
    _set(lib, config)
    rng = np.random.default_rng(12)
    bufs = Buffers()
    seen = {"pair": 0, "single": 0, "gp": 0}
    for i in range(24):
        fp16 = i % 3 == 2
        c = int(rng.integers(1, 9 * config.npu_cols))
        k = int(rng.integers(1, 6))
        side = int(rng.integers(1, 9)) if i % 2 else int(rng.integers(8, 30))
        x_shape = (int(rng.integers(1, 3)), side, int(rng.integers(1, 12)), c)
        stride = int(rng.integers(1, 3))
        wt = rng.standard_normal((1, k, k, c)).astype(np.float16) if fp16 else \
            rng.integers(-128, 128, (1, k, k, c), dtype=np.int8)
        s = [int(fp16), *x_shape, c, k, k, stride, stride, 0, 1, 1, 3]
        if fp16:
            program = _plan(conv_plan.depthwise_conv2d_fp16_program, config, x_shape, wt, None,
                            stride=stride, x_addr=X_ADDR, out_addr=OUT_ADDR,
                            param_addr=PARAM_ADDR)
            q = [0, 0, 0, 0, 0, 0]
            mult = shift = None
        else:
            mult = np.full(c, 1 << 30, np.int32)
            shift = rng.integers(-8, 1, c).astype(np.int32)
            program = _plan(conv_plan.depthwise_conv2d_int8_program, config, x_shape, wt, None,
                            input_zero_point=3, output_zero_point=-2, multiplier=mult,
                            shift=shift, stride=stride, x_addr=X_ADDR, out_addr=OUT_ADDR,
                            param_addr=PARAM_ADDR)
            q = [-2, -128, 127, 0, 0, 0]
            seen["pair"] += _macs(program, pair=True)
            seen["single"] += _macs(program, pair=False)
        count = lib.conv(1, _ptr(np.array(s, np.int32)), _ptr(wt), None, _ptr(mult),
                         _ptr(shift), None, _ptr(np.array(q, np.int32)), *bufs.args())
        bufs.check(count, program, f"depthwise {'fp16' if fp16 else 'int8'} x={x_shape} "
                                   f"k={k} s={stride}")
        # global pooling of the same input
        fn = pool_plan.average_pool_fp16_program if fp16 else pool_plan.average_pool_int8_program
        program = _plan(fn, config, x_shape, x_shape[1:3], x_addr=X_ADDR, out_addr=OUT_ADDR,
                        param_addr=PARAM_ADDR)
        s = [int(fp16), *x_shape, c, *x_shape[1:3], 1, 1, 1]
        count = lib.pool(_ptr(np.array(s, np.int32)),
                         _ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)), *bufs.args())
        seen["gp"] += bufs.check(count, program, f"global pool {'fp16' if fp16 else 'int8'} "
                                                 f"x={x_shape}")
    assert min(seen.values()) >= 3, seen


@pytest.mark.parametrize("config_name", ["8x8", "4x4"])
def test_pointwise_layers_count_the_startup_as_python(lib, config_name):
    """INT8 1x1 stride-1 convolutions with many channels, where the blocking search counts the
    first unit's wait for its data (plan_walk's ``startup``, which changes the plan of about
    one such layer in six on the 8x8): the same lists as Python."""
    config = CONFIGS[config_name]
    _set(lib, config)
    rng = np.random.default_rng(13)
    bufs = Buffers()
    planned = 0
    for _ in range(16):
        cin, cout = int(rng.integers(8, 200)), int(rng.integers(8, 200))
        x_shape = (1, int(rng.integers(1, 30)), int(rng.integers(1, 30)), cin)
        wt = rng.integers(-128, 128, (cout, 1, 1, cin), dtype=np.int8)
        mult = np.full(cout, 1 << 30, np.int32)
        shift = np.zeros(cout, np.int32)
        program = _plan(conv_plan.conv2d_int8_program, config, x_shape, wt, None,
                        input_zero_point=1, output_zero_point=0, multiplier=mult, shift=shift,
                        x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        s = [0, *x_shape, cout, 1, 1, 1, 1, 0, 1, 1, 1]
        count = lib.conv(0, _ptr(np.array(s, np.int32)), _ptr(wt), None, _ptr(mult),
                         _ptr(shift), None, _ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)),
                         *bufs.args())
        planned += bufs.check(count, program, f"pointwise x={x_shape} cout={cout}")
    assert planned >= 8             # the others do not fit the 4x4's SPAD (both refuse)


def test_fp16_pointwise_layers_break_ties_by_the_startup_as_python(lib):
    """FP16 1x1 stride-1 convolutions (no spread stream): of equal estimates the blocking
    whose first unit does not wait for its data (plan_walk's ``startup_tiebreak``): DS-CNN's
    25x5x64 -> 64 and MobileNet's 12x12x64 -> 64 take one group of every chunk, MobileNet's
    6x6x64 -> 128 keeps groups of two; the same lists as Python."""
    config = CONFIGS["8x8"]
    _set(lib, config)
    rng = np.random.default_rng(21)
    bufs = Buffers()
    for x_shape, cout, gn in (((1, 25, 5, 64), 64, 8), ((1, 12, 12, 64), 64, 8),
                              ((1, 6, 6, 64), 128, 2), ((1, 24, 24, 16), 32, 1)):
        wt = (rng.standard_normal((cout, 1, 1, x_shape[3])) / 8).astype(np.float16)
        bias = rng.standard_normal(cout).astype(np.float32)
        program = _plan(conv_plan.conv2d_fp16_program, config, x_shape, wt, bias,
                        x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        assert program.plan.gn == gn, (x_shape, cout, program.plan)
        s = [1, *x_shape, cout, 1, 1, 1, 1, 0, 1, 1, 0]
        count = lib.conv(0, _ptr(np.array(s, np.int32)), _ptr(wt), _ptr(bias), None, None,
                         None, _ptr(np.zeros(6, np.int32)), *bufs.args())
        assert bufs.check(count, program, f"pointwise fp16 x={x_shape} cout={cout}")


def test_pointwise_layers_on_small_maps_refill_in_pieces_as_python(lib):
    """1x1 layers on small maps whose weights do not fit twice (MobileNetV1-0.25's 3x3x256 ->
    256, and 300 input channels for a short last piece; 128 -> 256 in the ``double`` mode),
    the next group's weights refilled in pieces of PIECE_ROWS rows across the group's
    chunks: the same lists as Python."""
    config = CONFIGS["8x8"]
    _set(lib, config)
    rng = np.random.default_rng(17)
    bufs = Buffers()
    singles = 0
    for cin, cout in ((256, 256), (300, 256), (128, 256)):
        x_shape = (1, 3, 3, cin)
        wt = rng.integers(-128, 128, (cout, 1, 1, cin), dtype=np.int8)
        mult = np.full(cout, 1 << 30, np.int32)
        shift = np.zeros(cout, np.int32)
        program = _plan(conv_plan.conv2d_int8_program, config, x_shape, wt, None,
                        input_zero_point=1, output_zero_point=0, multiplier=mult, shift=shift,
                        x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        singles += program.plan.wmode == "single" and cin > PIECE_ROWS
        s = [0, *x_shape, cout, 1, 1, 1, 1, 0, 1, 1, 1]
        count = lib.conv(0, _ptr(np.array(s, np.int32)), _ptr(wt), None, _ptr(mult),
                         _ptr(shift), None, _ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)),
                         *bufs.args())
        assert bufs.check(count, program, f"pointwise x={x_shape} cout={cout}")
    assert singles >= 2


def test_an_npu_without_the_element_wise_unit(tmp_path_factory):
    """Built for an NPU without the element-wise unit (DURE_NPU_HAS_ELTWISE 0), the C port
    takes the array streams Python takes there: INT8 depthwise on diagonal COMPUTEs at every
    size and INT8 global pooling in units of GLOBAL_PAIR chunks, word for word."""
    config = SoCConfig(npu_rows=8, npu_cols=8, npu_spad_rows=2048, npu_acc_rows=1024,
                       npu_eltwise=False)
    lib = host_library(tmp_path_factory.mktemp("npu_conv_noelt"), "ops", SOURCES,
                       extra_sources={"shim.c": SHIM}, include_dirs=[ROOT / "firmware" / "npu"],
                       variant=config)
    _set(lib, config)
    rng = np.random.default_rng(14)
    bufs = Buffers()
    for _ in range(8):
        c = int(rng.integers(1, 60))
        x_shape = (int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 9)), c)
        wt = rng.integers(-128, 128, (1, 3, 3, c), dtype=np.int8)
        mult, shift = np.full(c, 1 << 30, np.int32), np.full(c, -2, np.int32)
        program = conv_plan.depthwise_conv2d_int8_program(
            config, x_shape, wt, None, input_zero_point=1, output_zero_point=0,
            multiplier=mult, shift=shift, x_addr=X_ADDR, out_addr=OUT_ADDR,
            param_addr=PARAM_ADDR)
        assert not _count_notes(program, "MAC")
        s = [0, *x_shape, c, 3, 3, 1, 1, 0, 1, 1, 1]
        q = np.array([0, -128, 127, 0, 0, 0], np.int32)
        count = lib.conv(1, _ptr(np.array(s, np.int32)), _ptr(wt), None, _ptr(mult),
                         _ptr(shift), None, _ptr(q), *bufs.args())
        assert bufs.check(count, program, f"depthwise int8 x={x_shape}")
        program = pool_plan.average_pool_int8_program(
            config, x_shape, x_shape[1:3], x_addr=X_ADDR, out_addr=OUT_ADDR,
            param_addr=PARAM_ADDR)
        assert _count_notes(program, "global pooling") and not _count_notes(program, "MAC")
        s = [0, *x_shape, c, *x_shape[1:3], 1, 1, 1]
        count = lib.pool(_ptr(np.array(s, np.int32)), _ptr(q), *bufs.args())
        assert bufs.check(count, program, f"global pool int8 x={x_shape}")


def test_the_64_bit_divide_without_a_runtime_divide(lib):
    """walk_div64 (the firmware has no __udivdi3): floor division on both of its paths."""
    lib.div64.restype = ctypes.c_uint64
    lib.div64.argtypes = [ctypes.c_uint64, ctypes.c_uint32]
    rng = np.random.default_rng(15)
    cases = [(0, 1), (2**64 - 1, 1), (2**64 - 1, 2**32 - 1), (2**32, 3), (2**32 - 1, 7)]
    cases += [(int(a), int(b)) for a, b in zip(rng.integers(0, 2**63, 200, dtype=np.uint64),
                                              rng.integers(1, 2**32, 200), strict=True)]
    cases += [(int(a) >> 33, int(b)) for a, b in cases[5:]]
    for a, b in cases:
        assert lib.div64(a, b) == a // b, (a, b)


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_max_pooling_writes_the_python_list(lib, config_name):
    """MAX_POOL_2D INT8 and FP16 (npu_maxpool.c, pool_plan's _max_pool: ELTWISE MAX per tap
    through the walk): the same list and parameter bytes on random windows, strides, paddings,
    batches, channel counts and clamps, refusals included."""
    config = CONFIGS[config_name]
    _set(lib, config)
    rng = np.random.default_rng(21)
    bufs = Buffers()
    planned = 0
    for _ in range(30):
        planned += _pool_case(lib, bufs, config, rng, "max")
    assert planned >= 20
    # the benchmark's 3x3 stride-2 SAME pool of a 16x16x32 map
    if config_name == "8x8":
        for fp16 in (0, 1):
            fn = pool_plan.max_pool_fp16_program if fp16 else pool_plan.max_pool_int8_program
            program = fn(config, (1, 16, 16, 32), (3, 3), stride=2, padding="SAME",
                         x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
            s = [fp16, 1, 16, 16, 32, 32, 3, 3, 2, 2, 0]
            count = lib.maxpool(_ptr(np.array(s, np.int32)),
                                _ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)),
                                *bufs.args())
            assert bufs.check(count, program, f"mp3x3s2 fp16={fp16}")


def _add_params(rng):
    from dure.sim.golden_tflite_params import add_params

    s1, s2 = (float(v) for v in rng.uniform(0.005, 0.1, 2))
    return add_params(s1, s2, float(rng.uniform(0.01, 0.2)))


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_int8_add_writes_the_python_list(lib, config_name):
    """INT8 ADD on the element-wise unit (npu_add_int8.c, eltwise_plan.add_int8_program): the
    same list and parameter bytes on random shapes (a partial last row, many blocks),
    parameters, zero points and clamps; bad shifts, zero points and clamps refused by both."""
    config = CONFIGS[config_name]
    _set(lib, config)
    rng = np.random.default_rng(22)
    bufs = Buffers()
    planned = 0
    a_addr, b_addr = 0x8000_0000, 0x8008_0000
    for i in range(30):
        shape = tuple(int(d) for d in rng.integers(1, 40, rng.integers(1, 4)))
        if i % 5 == 0:
            shape = (int(rng.integers(2000, 9000)),)
        prm = _add_params(rng)
        zps = [int(z) for z in rng.integers(-128, 128, 3)]
        zo, lo, hi = _post_int8(rng)
        zps[2] = zo
        if i % 7 == 3:
            prm = type(prm)(**{**prm.__dict__, "input2_shift": 1})      # refused
        if i % 11 == 5:
            zps[0] = 128                                                # refused
        program = _plan(eltwise_plan.add_int8_program, config, shape, prm,
                        input1_zero_point=zps[0], input2_zero_point=zps[1],
                        output_zero_point=zps[2], lo=lo, hi=hi, a_addr=a_addr, b_addr=b_addr,
                        out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        p = [int(np.prod(shape)), a_addr, b_addr, zps[0], zps[1], prm.left_shift,
             prm.input1_multiplier, prm.input1_shift, prm.input2_multiplier, prm.input2_shift,
             prm.output_multiplier, prm.output_shift]
        p = np.array([v - (1 << 32) if v >= 1 << 31 else v for v in p], np.int32)
        q = np.array([zps[2], lo, hi, 0, 0, 0], np.int32)
        count = lib.add_int8(_ptr(p), _ptr(q), *bufs.args())
        planned += bufs.check(count, program, f"add int8 {shape} zps={zps} ({lo}, {hi})")
    assert planned >= 18


def _float_scale_case(lib, bufs, config, rng, depthwise):
    n, h, w, cin, cout, kh, kw, stride, padding = _random_shape(rng, depthwise)
    if rng.random() < 0.3 and not depthwise:
        cin, kw = 1, min(kw, 3)                                        # packed taps
    shape = (1, kh, kw, cin) if depthwise else (cout, kh, kw, cin)
    wt = rng.integers(-128, 128, shape, dtype=np.int8)
    bias = rng.integers(-5000, 5000, cout, dtype=np.int32) if rng.random() < 0.8 else None
    scale = rng.uniform(1e-4, 1e-2, cout).astype(np.float32)
    if rng.random() < 0.05:
        scale[0] = np.inf                                              # refused
    zi = int(rng.integers(-128, 128))
    zo, lo, hi = _post_int8(rng)
    fn = (conv_plan.depthwise_conv2d_int8_float_scale_program if depthwise else
          conv_plan.conv2d_int8_float_scale_program)
    program = _plan(fn, config, (n, h, w, cin), wt, bias, input_zero_point=zi,
                    output_zero_point=zo, scale=scale, stride=stride, padding=padding, lo=lo,
                    hi=hi, x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
    s = [0, n, h, w, cin, cout, kh, kw, stride[0], stride[1], 0 if padding == "SAME" else 1,
         1, 1, zi]
    count = lib.conv(int(depthwise), _ptr(np.array(s, np.int32)), _ptr(wt), _ptr(bias), None,
                     None, _ptr(scale.view(np.uint32)),
                     _ptr(np.array([zo, lo, hi, 0, 0, 0], np.int32)), *bufs.args())
    return bufs.check(count, program, f"float-scale {'depthwise' if depthwise else 'conv'} "
                                      f"x={(n, h, w, cin)} cout={cout} k={(kh, kw)} s={stride} "
                                      f"{padding}"), _count_notes(program, "packed")


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_float_scale_convolutions_write_the_python_list(lib, config_name):
    """INT8 convolution and depthwise convolution with the float-scale (ONNX) requantization
    (a scale and no multiplier): walked, tap-packed and pair-MAC streams, the same lists and
    parameter bytes as conv_plan's *_float_scale_program."""
    config = CONFIGS[config_name]
    _set(lib, config)
    rng = np.random.default_rng(23)
    bufs = Buffers()
    planned = packed = 0
    for i in range(24):
        ok, was_packed = _float_scale_case(lib, bufs, config, rng, i % 2 == 1)
        planned += ok
        packed += was_packed
    assert planned >= 14 and packed >= 2, (planned, packed)


def test_weights_by_taps_take_the_python_slots(lib):
    """Layers whose weights do not fit the SPAD whole (the ``taps`` weight mode: two taps'
    matrices resident, each later tap's LOAD placed after the last COMPUTE reading its buffer)
    on the 8x8 NPU: the same list as Python."""
    config = CONFIGS["8x8"]
    _set(lib, config)
    rng = np.random.default_rng(24)
    bufs = Buffers()
    taps = 0
    for cin, cout, k, h in ((39, 21, 4, 7), (41, 21, 4, 3), (53, 58, 4, 7), (60, 40, 3, 9)):
        wt = rng.integers(-128, 128, (cout, k, k, cin), dtype=np.int8)
        mult, shift = np.full(cout, 1 << 30, np.int32), np.zeros(cout, np.int32)
        program = conv_plan.conv2d_int8_program(
            config, (1, h, h, cin), wt, None, input_zero_point=1, output_zero_point=0,
            multiplier=mult, shift=shift, x_addr=X_ADDR, out_addr=OUT_ADDR,
            param_addr=PARAM_ADDR)
        taps += program.plan.wmode == "taps"
        s = [0, 1, h, h, cin, cout, k, k, 1, 1, 0, 1, 1, 1]
        count = lib.conv(0, _ptr(np.array(s, np.int32)), _ptr(wt), None, _ptr(mult),
                         _ptr(shift), None, _ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)),
                         *bufs.args())
        assert bufs.check(count, program, f"conv x={(h, h, cin)} cout={cout} k={k}")
    assert taps >= 3
