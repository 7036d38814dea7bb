"""The firmware's convolution planners (firmware/npu/npu_conv.c and the average pooling and
FP16 ADD of npu_pool.c / npu_add.c on the walk engine npu_walk*.c; INT8 convolutions in both
requantization modes, TFLite and float-scale), compiled for the host with the generated
headers, write the descriptor list and the parameter bytes of the Python planners
(sim/conv_plan.py, sim/pool_plan.py, sim/eltwise_plan.py) word for word and byte for byte, on
many random layers of both precisions on an 8x8 and a 4x4 NPU, and refuse exactly the layers
those refuse. The harness is dure.sim.verif.npu_op_host; the tap-packed convolutions, max
pooling and INT8 ADD have their own files (test_npu_conv_pack.py, test_npu_pool.py,
test_npu_add_int8.py)."""

import ctypes

import numpy as np
import pytest
from dure.rtl.npu.commands import Precision
from dure.sim import conv_plan, pool_plan
from dure.sim.verif.npu_op_host import (
    CONFIGS,
    LIST_CAP,
    OUT_ADDR,
    PARAM_ADDR,
    PARAM_CAP,
    SOURCES,
    X_ADDR,
    Buffers,
    add_case,
    conv_case,
    count_notes,
    eltwise_macs,
    float_scale_case,
    op_library,
    pool_case,
    ptr,
    set_info,
    try_plan,
)
from dure.sim.walk_emit import PIECE_ROWS

from dure.config import SoCConfig
from dure.gemm_cost import WALK_MODEL


def test_the_c_port_uses_the_generated_constants():
    text = "".join(p.read_text() for p in SOURCES)
    for name in WALK_MODEL:
        # MAC_PIXELS: only conv_plan's pair=False choice (the C port always pairs taps)
        if name not in ("POOL_MAX_WINDOW", "MAC_PIXELS"):
            assert f"DURE_NPU_WALK_{name}" in text, name
        assert f"#define {name}" not in text


@pytest.mark.parametrize("config_name", list(CONFIGS))
@pytest.mark.parametrize("seed", [1, 2])
def test_c_and_python_write_the_same_lists(op_lib, config_name, seed):
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(seed)
    bufs = Buffers()
    planned = refused = 0
    for i in range(60):
        kind = i % 4
        if kind == 0:
            # every other convolution planned to run as one LIST (conv_plan's listed)
            ok = conv_case(op_lib, bufs, config, rng, False, listed=i % 8 == 4)
        elif kind == 1:
            ok = conv_case(op_lib, bufs, config, rng, True)
        elif kind == 2:
            ok = pool_case(op_lib, bufs, config, rng)
        else:
            ok = add_case(op_lib, bufs, config, rng)
        planned += ok
        refused += not ok
    assert planned > 30


def test_fixed_layers_of_the_benchmark(op_lib):
    """The benchmark's layers (sim/npu_bench.py LAYERS) on the 8x8 NPU, both precisions; the
    INT8 convolutions both pushed and planned to run as one LIST (``listed``)."""
    from dure.sim.npu_bench import LAYERS, layer_operands

    config = CONFIGS["8x8"]
    set_info(op_lib, config)
    bufs = Buffers()
    for name, op, x_shape, cout, kernel, stride, padding, _ in LAYERS:
        if op not in ("conv", "depthwise", "avgpool"):
            continue    # ADD and MAX_POOL rows: test_int8_add_..., test_max_pooling_...
        for precision, listed in (("int8", False), ("int8", True), ("fp16", False)):
            if listed and op != "conv":
                continue
            spec = layer_operands(op, x_shape, cout, kernel, precision, 0)
            fp16 = precision == "fp16"
            s = [int(fp16), *x_shape, cout, *kernel, stride, stride,
                 0 if padding == "SAME" else 1, 1, 1, spec.get("input_zero_point", 0)]
            if op == "avgpool":
                fn = getattr(pool_plan, f"average_pool_{precision}_program")
                program = fn(config, x_shape, kernel, stride=stride, padding=padding,
                             x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
                q = [0, -128, 127, 0, 0, 0]
                count = op_lib.pool(ptr(np.array(s, np.int32)), ptr(np.array(q, np.int32)),
                                 *bufs.args())
            else:
                base = "depthwise_conv2d" if op == "depthwise" else "conv2d"
                fn = getattr(conv_plan, f"{base}_{precision}_program")
                extra = {} if fp16 else dict(
                    input_zero_point=spec["input_zero_point"],
                    output_zero_point=spec["output_zero_point"],
                    multiplier=spec["multiplier"], shift=spec["shift"])
                if listed:
                    extra["listed"] = True
                program = fn(config, x_shape, spec["w"], spec["bias"], stride=stride,
                             padding=padding, x_addr=X_ADDR, out_addr=OUT_ADDR,
                             param_addr=PARAM_ADDR, **extra)
                q = [0, 0, 0, 0, 0, 0] if fp16 else [spec["output_zero_point"], -128, 127, 0,
                                                     0, 0]
                mult = None if fp16 else np.broadcast_to(
                    np.asarray(spec["multiplier"], np.int32), (cout,)).copy()
                shift = None if fp16 else np.broadcast_to(
                    np.asarray(spec["shift"], np.int32), (cout,)).copy()
                op_lib.set_listed(int(listed))
                count = op_lib.conv(int(op == "depthwise"), ptr(np.array(s, np.int32)),
                                 ptr(spec["w"]), ptr(spec["bias"]), ptr(mult), ptr(shift),
                                 None, ptr(np.array(q, np.int32)), *bufs.args())
                op_lib.set_listed(0)
            assert bufs.check(count, program, f"{name} {precision} listed={listed}")


@pytest.mark.parametrize("shape", [
    (1, 8, 8, 64, 64, 3, 3, (1, 1), "SAME"),      # ResNet-8 stage 3
    (1, 8, 8, 60, 40, 3, 3, (1, 1), "SAME"),      # partial input and output chunks
    (2, 8, 8, 64, 64, 3, 3, (1, 1), "SAME"),      # batch 2
    (1, 8, 8, 64, 128, 1, 3, (1, 1), "SAME"),     # no left padding column (no tap swap)
])
def test_the_joint_first_wave_takes_the_python_list(op_lib, shape):
    """INT8 layers whose first unit takes the joint first wave (sim/walk_cmds.py
    joint_first: two output chunks' input chunk 0 in two parts of rows; C walk_joint_first):
    C writes the Python list, and the wave is there (its first COMPUTE is 4 output rows)."""
    from dure.rtl.npu.commands import Opcode
    from dure.rtl.npu.descriptor import decode

    config = CONFIGS["8x8"]
    set_info(op_lib, config)
    bufs = Buffers()
    assert conv_case(op_lib, bufs, config, np.random.default_rng(5), False, shape)
    first = next(f for op, f in (decode(w) for w in bufs.list.reshape(-1, 8))
                 if op == Opcode.COMPUTE)
    assert first["m"] == 4 * shape[2]


@pytest.mark.parametrize("shape", [
    (1, 32, 32, 16, 16, 3, 3, (1, 1), "SAME"),    # ResNet-8 stage 1 (resident)
    (1, 16, 16, 32, 32, 3, 3, (1, 1), "SAME"),    # ResNet-8 stage 2 (double)
    (1, 16, 16, 20, 24, 3, 3, (1, 1), "SAME"),    # partial input and output chunks
    (2, 16, 16, 16, 16, 3, 3, (1, 1), "SAME"),    # batch 2
    (1, 20, 12, 24, 20, 3, 3, (1, 1), "SAME"),    # a first wave of 10 rows
])
def test_the_fp16_joint_first_wave_takes_the_python_list(op_lib, shape):
    """FP16 layers whose first wave also computes the second unit's chunk (sim/walk_cmds.py
    fp16_joint_rows; C walk_fp16_joint): C writes the Python list, and the wave is there (the
    second COMPUTE writes the second ACC half)."""
    from dure.rtl.npu.commands import Opcode
    from dure.rtl.npu.descriptor import decode

    config = CONFIGS["8x8"]
    set_info(op_lib, config)
    bufs = Buffers()
    assert conv_case(op_lib, bufs, config, np.random.default_rng(6), False, shape, fp16=True)
    comps = [f for op, f in (decode(w) for w in bufs.list.reshape(-1, 8))
             if op == Opcode.COMPUTE]
    assert comps[0]["acc_addr"] == 0 and comps[1]["acc_addr"] > 0
    assert comps[0]["a_addr"] == comps[1]["a_addr"]


@pytest.mark.parametrize("cin, kernel", [(6, (3, 3)), (1, (5, 2))])     # walked, packed
def test_count_only_and_small_buffers(op_lib, cin, kernel):
    """list NULL gives the capacity a call needs; one descriptor less is refused."""
    config = CONFIGS["4x4"]
    set_info(op_lib, config)
    rng = np.random.default_rng(5)
    wt = rng.integers(-128, 128, (12, *kernel, cin), dtype=np.int8)
    s = np.array([0, 1, 9, 7, cin, 12, *kernel, 1, 1, 0, 1, 1, 3], np.int32)
    mult = np.full(12, 1 << 30, np.int32)
    shift = np.full(12, -8, np.int32)
    q = np.array([1, -128, 127, 0, 0, 0], np.int32)
    bufs = Buffers()
    args = (0, ptr(s), ptr(wt), None, ptr(mult), ptr(shift), None, ptr(q))
    need = op_lib.conv(*args, ptr(bufs.addr), None, 0, None, 0)
    count = op_lib.conv(*args, *bufs.args())
    assert 0 < count <= need
    assert op_lib.conv(*args, ptr(bufs.addr), ptr(bufs.param), PARAM_CAP, ptr(bufs.list),
                    need) == count
    assert op_lib.conv(*args, ptr(bufs.addr), ptr(bufs.param), PARAM_CAP, ptr(bufs.list),
                    count - 1) < 0
    assert op_lib.conv(*args, ptr(bufs.addr), ptr(bufs.param), 16, ptr(bufs.list),
                    LIST_CAP) < 0
    program = conv_plan.conv2d_int8_program(
        config, (1, 9, 7, cin), wt, None, input_zero_point=3, output_zero_point=1,
        multiplier=mult, shift=shift, x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
    assert count == len(program.descriptors)
    assert count_notes(program, "packed") == (cin == 1)
    assert Precision.INT8.value == 0


@pytest.mark.parametrize("config_name", ["8x8", "4x4"])
def test_depthwise_and_global_pooling_take_every_stream(op_lib, config_name):
    """INT8 and FP16 depthwise on the element-wise unit (pair MACs, a single MAC for an odd
    window's last tap; the diagonal COMPUTEs: test_an_npu_without_the_element_wise_unit,
    test_an_npu_without_the_fp16_mac); global average pooling on the element-wise MAC (INT8)
    and on the array (FP16), batches and many chunks."""
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(12)
    bufs = Buffers()
    seen = {"pair": 0, "single": 0, "gp": 0, "fp16 pair": 0}
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
            program = try_plan(conv_plan.depthwise_conv2d_fp16_program, config, x_shape, wt, None,
                            stride=stride, x_addr=X_ADDR, out_addr=OUT_ADDR,
                            param_addr=PARAM_ADDR)
            q = [0, 0, 0, 0, 0, 0]
            mult = shift = None
            seen["fp16 pair"] += eltwise_macs(program, pair=True)
        else:
            mult = np.full(c, 1 << 30, np.int32)
            shift = rng.integers(-8, 1, c).astype(np.int32)
            program = try_plan(conv_plan.depthwise_conv2d_int8_program, config, x_shape, wt, None,
                            input_zero_point=3, output_zero_point=-2, multiplier=mult,
                            shift=shift, stride=stride, x_addr=X_ADDR, out_addr=OUT_ADDR,
                            param_addr=PARAM_ADDR)
            q = [-2, -128, 127, 0, 0, 0]
            seen["pair"] += eltwise_macs(program, pair=True)
            seen["single"] += eltwise_macs(program, pair=False)
        count = op_lib.conv(1, ptr(np.array(s, np.int32)), ptr(wt), None, ptr(mult),
                         ptr(shift), None, ptr(np.array(q, np.int32)), *bufs.args())
        bufs.check(count, program, f"depthwise {'fp16' if fp16 else 'int8'} x={x_shape} "
                                   f"k={k} s={stride}")
        # global pooling of the same input
        fn = pool_plan.average_pool_fp16_program if fp16 else pool_plan.average_pool_int8_program
        program = try_plan(fn, config, x_shape, x_shape[1:3], x_addr=X_ADDR, out_addr=OUT_ADDR,
                        param_addr=PARAM_ADDR)
        s = [int(fp16), *x_shape, c, *x_shape[1:3], 1, 1, 1]
        count = op_lib.pool(ptr(np.array(s, np.int32)),
                         ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)), *bufs.args())
        seen["gp"] += bufs.check(count, program, f"global pool {'fp16' if fp16 else 'int8'} "
                                                 f"x={x_shape}")
    assert min(seen.values()) >= 3, seen


@pytest.mark.parametrize("config_name", ["8x8", "4x4"])
def test_pointwise_layers_count_the_startup_as_python(op_lib, config_name):
    """INT8 1x1 stride-1 convolutions with many channels, where the blocking search counts the
    first unit's wait for its data (plan_walk's ``startup``, which changes the plan of about
    one such layer in six on the 8x8): the same lists as Python."""
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(13)
    bufs = Buffers()
    planned = 0
    for _ in range(16):
        cin, cout = int(rng.integers(8, 200)), int(rng.integers(8, 200))
        x_shape = (1, int(rng.integers(1, 30)), int(rng.integers(1, 30)), cin)
        wt = rng.integers(-128, 128, (cout, 1, 1, cin), dtype=np.int8)
        mult = np.full(cout, 1 << 30, np.int32)
        shift = np.zeros(cout, np.int32)
        program = try_plan(conv_plan.conv2d_int8_program, config, x_shape, wt, None,
                        input_zero_point=1, output_zero_point=0, multiplier=mult, shift=shift,
                        x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        s = [0, *x_shape, cout, 1, 1, 1, 1, 0, 1, 1, 1]
        count = op_lib.conv(0, ptr(np.array(s, np.int32)), ptr(wt), None, ptr(mult),
                         ptr(shift), None, ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)),
                         *bufs.args())
        planned += bufs.check(count, program, f"pointwise x={x_shape} cout={cout}")
    assert planned >= 8             # the others do not fit the 4x4's SPAD (both refuse)


def test_fp16_pointwise_layers_break_ties_by_the_startup_as_python(op_lib):
    """FP16 1x1 stride-1 convolutions (no spread stream): of equal estimates the blocking
    whose first unit does not wait for its data (plan_walk's ``startup_tiebreak``): DS-CNN's
    25x5x64 -> 64 and MobileNet's 12x12x64 -> 64 take one group of every chunk, MobileNet's
    6x6x64 -> 128 keeps groups of two; the same lists as Python."""
    config = CONFIGS["8x8"]
    set_info(op_lib, config)
    rng = np.random.default_rng(21)
    bufs = Buffers()
    for x_shape, cout, gn in (((1, 25, 5, 64), 64, 8), ((1, 12, 12, 64), 64, 8),
                              ((1, 6, 6, 64), 128, 2), ((1, 24, 24, 16), 32, 1)):
        wt = (rng.standard_normal((cout, 1, 1, x_shape[3])) / 8).astype(np.float16)
        bias = rng.standard_normal(cout).astype(np.float32)
        program = try_plan(conv_plan.conv2d_fp16_program, config, x_shape, wt, bias,
                        x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        assert program.plan.gn == gn, (x_shape, cout, program.plan)
        s = [1, *x_shape, cout, 1, 1, 1, 1, 0, 1, 1, 0]
        count = op_lib.conv(0, ptr(np.array(s, np.int32)), ptr(wt), ptr(bias), None, None,
                         None, ptr(np.zeros(6, np.int32)), *bufs.args())
        assert bufs.check(count, program, f"pointwise fp16 x={x_shape} cout={cout}")


def test_pointwise_layers_on_small_maps_refill_in_pieces_as_python(op_lib):
    """1x1 layers on small maps whose weights do not fit twice (MobileNetV1-0.25's 3x3x256 ->
    256, and 300 input channels for a short last piece; 128 -> 256 in the ``double`` mode),
    the next group's weights refilled in pieces of PIECE_ROWS rows across the group's
    chunks: the same lists as Python."""
    config = CONFIGS["8x8"]
    set_info(op_lib, config)
    rng = np.random.default_rng(17)
    bufs = Buffers()
    singles = 0
    for cin, cout in ((256, 256), (300, 256), (128, 256)):
        x_shape = (1, 3, 3, cin)
        wt = rng.integers(-128, 128, (cout, 1, 1, cin), dtype=np.int8)
        mult = np.full(cout, 1 << 30, np.int32)
        shift = np.zeros(cout, np.int32)
        program = try_plan(conv_plan.conv2d_int8_program, config, x_shape, wt, None,
                        input_zero_point=1, output_zero_point=0, multiplier=mult, shift=shift,
                        x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        singles += program.plan.wmode == "single" and cin > PIECE_ROWS
        s = [0, *x_shape, cout, 1, 1, 1, 1, 0, 1, 1, 1]
        count = op_lib.conv(0, ptr(np.array(s, np.int32)), ptr(wt), None, ptr(mult),
                         ptr(shift), None, ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)),
                         *bufs.args())
        assert bufs.check(count, program, f"pointwise x={x_shape} cout={cout}")
    assert singles >= 2


def test_an_npu_without_the_element_wise_unit(tmp_path_factory):
    """Built for an NPU without the element-wise unit (DURE_NPU_HAS_ELTWISE 0), the C port
    takes the array streams Python takes there: INT8 depthwise on diagonal COMPUTEs at every
    size and INT8 global pooling in units of GLOBAL_PAIR chunks, word for word."""
    config = SoCConfig(npu_rows=8, npu_cols=8, npu_spad_rows=2048, npu_acc_rows=1024,
                       npu_eltwise=False)
    lib = op_library(tmp_path_factory.mktemp("npu_conv_noelt"), config)
    set_info(lib, config)
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
        assert not count_notes(program, "MAC")
        s = [0, *x_shape, c, 3, 3, 1, 1, 0, 1, 1, 1]
        q = np.array([0, -128, 127, 0, 0, 0], np.int32)
        count = lib.conv(1, ptr(np.array(s, np.int32)), ptr(wt), None, ptr(mult),
                         ptr(shift), None, ptr(q), *bufs.args())
        assert bufs.check(count, program, f"depthwise int8 x={x_shape}")
        program = pool_plan.average_pool_int8_program(
            config, x_shape, x_shape[1:3], x_addr=X_ADDR, out_addr=OUT_ADDR,
            param_addr=PARAM_ADDR)
        assert count_notes(program, "global pooling") and not count_notes(program, "MAC")
        s = [0, *x_shape, c, *x_shape[1:3], 1, 1, 1]
        count = lib.pool(ptr(np.array(s, np.int32)), ptr(q), *bufs.args())
        assert bufs.check(count, program, f"global pool int8 x={x_shape}")


def test_an_npu_without_the_fp16_mac(tmp_path_factory):
    """Built for an NPU whose element-wise unit has no FP16 MAC (DURE_NPU_HAS_ELTWISE_FP16 0,
    the ULX3S's), the C port keeps FP16 depthwise on diagonal COMPUTEs as Python does there,
    and INT8 depthwise on the pair MACs, word for word."""
    config = SoCConfig(npu_rows=8, npu_cols=8, npu_spad_rows=2048, npu_acc_rows=1024,
                       npu_eltwise_fp16=False)
    lib = op_library(tmp_path_factory.mktemp("npu_conv_nofp16mac"), config)
    set_info(lib, config)
    rng = np.random.default_rng(15)
    bufs = Buffers()
    for i in range(6):
        c = int(rng.integers(1, 60))
        x_shape = (1, int(rng.integers(1, 12)), int(rng.integers(1, 9)), c)
        q = np.array([0, 0, 0, 0, 0, 0], np.int32)
        if i % 2:
            wt = rng.integers(-128, 128, (1, 3, 3, c), dtype=np.int8)
            mult, shift = np.full(c, 1 << 30, np.int32), np.full(c, -2, np.int32)
            program = conv_plan.depthwise_conv2d_int8_program(
                config, x_shape, wt, None, input_zero_point=1, output_zero_point=0,
                multiplier=mult, shift=shift, x_addr=X_ADDR, out_addr=OUT_ADDR,
                param_addr=PARAM_ADDR)
            q[1:3] = -128, 127
        else:
            wt = rng.standard_normal((1, 3, 3, c)).astype(np.float16)
            mult = shift = None
            program = conv_plan.depthwise_conv2d_fp16_program(
                config, x_shape, wt, None, x_addr=X_ADDR, out_addr=OUT_ADDR,
                param_addr=PARAM_ADDR)
        assert eltwise_macs(program, pair=True) == bool(i % 2)
        s = [int(not i % 2), *x_shape, c, 3, 3, 1, 1, 0, 1, 1, 1]
        count = lib.conv(1, ptr(np.array(s, np.int32)), ptr(wt), None, ptr(mult),
                         ptr(shift), None, ptr(q), *bufs.args())
        assert bufs.check(count, program, f"depthwise x={x_shape} i={i}")


def test_the_64_bit_divide_without_a_runtime_divide(op_lib):
    """walk_div64 (the firmware has no __udivdi3): floor division on both of its paths."""
    op_lib.div64.restype = ctypes.c_uint64
    op_lib.div64.argtypes = [ctypes.c_uint64, ctypes.c_uint32]
    rng = np.random.default_rng(15)
    cases = [(0, 1), (2**64 - 1, 1), (2**64 - 1, 2**32 - 1), (2**32, 3), (2**32 - 1, 7)]
    cases += [(int(a), int(b)) for a, b in zip(rng.integers(0, 2**63, 200, dtype=np.uint64),
                                              rng.integers(1, 2**32, 200), strict=True)]
    cases += [(int(a) >> 33, int(b)) for a, b in cases[5:]]
    for a, b in cases:
        assert op_lib.div64(a, b) == a // b, (a, b)


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_float_scale_convolutions_write_the_python_list(op_lib, config_name):
    """INT8 convolution and depthwise convolution with the float-scale (ONNX) requantization
    (a scale and no multiplier): walked, tap-packed and pair-MAC streams, the same lists and
    parameter bytes as conv_plan's *_float_scale_program."""
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(23)
    bufs = Buffers()
    planned = packed = 0
    for i in range(24):
        ok, was_packed = float_scale_case(op_lib, bufs, config, rng, i % 2 == 1)
        planned += ok
        packed += was_packed
    assert planned >= 14 and packed >= 2, (planned, packed)


def test_weights_by_taps_take_the_python_slots(op_lib):
    """Layers whose weights do not fit the SPAD whole (the ``taps`` weight mode: two taps'
    matrices resident, each later tap's LOAD placed after the last COMPUTE reading its buffer)
    on the 8x8 NPU: the same list as Python."""
    config = CONFIGS["8x8"]
    set_info(op_lib, config)
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
        count = op_lib.conv(0, ptr(np.array(s, np.int32)), ptr(wt), None, ptr(mult),
                         ptr(shift), None, ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)),
                         *bufs.args())
        assert bufs.check(count, program, f"conv x={(h, h, cin)} cout={cout} k={k}")
    assert taps >= 3
