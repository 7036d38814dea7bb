"""The layer-table walker of the npu_model_run firmware (firmware/npu_jobs/npu_model_run/
layer_table.c), compiled for the host with the C kernels it calls (firmware/npu/cpu_ops_*.c)
and the golden NPU command model (dure.sim.npu_model) behind its NPU callback: whole compiled
models come out bit-exact with the reference; bad tables stop with their named error code.
The same walker on the simulated SoC: tests/compiler/test_soc.py."""

import ctypes
import dataclasses
import re
import struct

import numpy as np
import pytest
from dure.compiler import program as pg
from dure.compiler import reference
from dure.compiler.execute import read_outputs
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.compiler.soc import check_intermediates
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm
from dure.sim.verif import layer_walker as lw
from dure.sim.verif import onnx_models as om

from dure.config import preset


@pytest.fixture
def lib(walker_lib):
    return walker_lib


def _walk(lib, mem, table_addr, config):
    """Run the walker over ``mem`` (a one-tile SoC); NPU layers on the command model. Returns
    (status, results offset, NPU calls)."""
    return lw.walk(lib, mem, table_addr, config, tiles=False)


def _ort_resnet_avg(rng, **kw):
    """quantize_static (QDQ, uint8) of a residual block ending in AveragePool 3x3 pads 1 and
    an AveragePool over the image, then Softmax."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return om.quantize(cm.onnx_float_resnet(rng, pool="avg", softmax=True, **kw), rng, tmp,
                           activation_type="QUInt8")


MODELS = {
    "int8_cnn": (cm.tflite_int8_cnn, {"h": 6, "w": 6, "c": 6}, parse_tflite, True),
    # float32 edges: TFLite QUANTIZE / DEQUANTIZE on the core
    "int8_cnn_float_edges": (cm.tflite_int8_cnn, {"h": 6, "w": 6, "c": 6, "float_edges": True},
                             parse_tflite, True),
    # the older lowering: im2col, AVERAGE_POOL, ADD on the core (16x16x16 ADD: chunked)
    "int8_resnet8_core": (cm.tflite_int8_resnet8, {"size": 16}, parse_tflite, False),
    "fp16_resnet_core": (cm.onnx_float_resnet, {"h": 6, "w": 6, "c": 4}, parse_onnx, False),
    # SOFTMAX_FP16 (TFLite float model run in FP16)
    "fp16_cnn_softmax": (cm.tflite_float_cnn, {"h": 6, "w": 6, "c": 6}, parse_tflite, True),
    "int8_dscnn": (cm.tflite_int8_dscnn, {"c": 16, "blocks": 1}, parse_tflite, True),
    # ONNX QDQ: QuantizeLinear / DequantizeLinear at the edges on the core
    "onnx_qdq_mlp": (cm.onnx_qdq_mlp, {"batch": 3}, parse_onnx, True),
    # quantize_static, symmetric activations: the Relus stay float nodes, each a QUANTIZE
    # with a clamp on the core
    "onnx_ort_symmetric": (om.quantized_model, {"name": "autoencoder", "extra_options": {
        "ActivationSymmetric": True}}, parse_onnx, True),
    # quantize_static of Dense layers as MatMul + Add: ADD_ONNX with a constant operand
    "onnx_ort_matmul_add": (om.quantized_model, {"name": "autoencoder", "model_kw": {
        "matmul": True}, "activation_type": "QUInt8"}, parse_onnx, True),
    # quantize_static DS-CNN / MobileNet with the older lowering: DEPTHWISE_ONNX (and PAD
    # nodes) on the core (with the planners their depthwise layers walk on the NPU)
    "onnx_ort_dscnn_qop_u8": (om.quantized_model, {"name": "dscnn", "quant_format": "QOperator",
                                                   "activation_type": "QUInt8",
                                                   "per_channel": True}, parse_onnx, False),
    "onnx_ort_mobilenet_pad": (om.quantized_model, {"name": "mobilenet", "model_kw": {
        "pad_form": "node"}}, parse_onnx, False),
    # AVG_POOL_ONNX (padded 3x3 window) and GLOBAL_AVG_POOL_ONNX (the older lowering: with
    # the planners the global pool runs on the NPU)
    "onnx_ort_resnet_avg": (_ort_resnet_avg, {"h": 6, "w": 6, "c": 4}, parse_onnx, False),
    # quantize_static ResNet-8 as tf2onnx writes it (NHWC input + Transpose, Transpose before
    # the Reshape): TRANSPOSE, SOFTMAX_ONNX on the core (its ADDs on the element-wise unit;
    # with the older lowering ADD_ONNX of two activations on the core); uint8 activations
    # (int8 ones: onnx_ort_resnet8_qdq_int8 below)
    "onnx_ort_resnet8_qdq": (om.quantized_model, {"name": "resnet8", "model_kw": {
        "nhwc_input": True, "flatten": "nhwc-reshape"}, "activation_type": "QUInt8"},
        parse_onnx, True),
    "onnx_ort_resnet8_qdq_core": (om.quantized_model, {"name": "resnet8", "model_kw": {
        "nhwc_input": True, "flatten": "nhwc-reshape"}, "activation_type": "QUInt8"},
        parse_onnx, False),
    # int8 activations: onnxruntime's unfused float32 convolutions (CONV_FLOAT_ONNX, with
    # FMA chains restarted by thread segment at K > 128) and float Adds (ADD_ONNX's table)
    "onnx_ort_resnet8_qdq_int8": (om.quantized_model, {"name": "resnet8", "model_kw": {
        "nhwc_input": True, "flatten": "nhwc-reshape"}}, parse_onnx, True),
    "onnx_qdq_conv_k1440": (om.onnx_qdq_conv, {"cin": 160, "cout": 6, "k": 3, "size": 7,
                                               "pad": 1, "relu": True}, parse_onnx, True),
    "onnx_qdq_conv_ties": (om.onnx_qdq_conv, {
        "cin": 48, "cout": 12, "k": 3, "size": 9, "pad": 1, "per_channel": False,
        "x_scale": 0.1, "w_scale": 0.01, "w_max": 3,
        "y_scale": float(np.float32(np.float32(0.1) * np.float32(0.01)) * 2)}, parse_onnx, True),
    # the same tie model on the slow kernel (CONV_FLOAT_ONNX; the fast path needs planners)
    "onnx_qdq_conv_ties_slow": (om.onnx_qdq_conv, {
        "cin": 48, "cout": 12, "k": 3, "size": 9, "pad": 1, "per_channel": False,
        "x_scale": 0.1, "w_scale": 0.01, "w_max": 3,
        "y_scale": float(np.float32(np.float32(0.1) * np.float32(0.01)) * 2)}, parse_onnx,
        False),
    "onnx_qdq_conv_stride2": (om.onnx_qdq_conv, {"cin": 16, "cout": 8, "k": 3, "size": 9,
                                                 "stride": 2, "pad": 1}, parse_onnx, True),
    "onnx_qdq_conv_depthwise": (om.onnx_qdq_conv, {"cin": 8, "cout": 8, "k": 3, "size": 6,
                                                   "stride": 2, "pad": 1, "group": 8},
                                parse_onnx, True),
    "onnx_qdq_conv_pointwise": (om.onnx_qdq_conv, {"cin": 200, "cout": 10, "k": 1,
                                                   "size": 7}, parse_onnx, True),
    "onnx_ort_resnet8_qop_u8": (om.quantized_model, {"name": "resnet8", "model_kw": {
        "pool": "global"}, "quant_format": "QOperator", "activation_type": "QUInt8",
        "per_channel": True}, parse_onnx, True),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_whole_model_on_host(lib, load_program, name):
    builder, kw, parse, planners = MODELS[name]
    rng = np.random.default_rng(77)
    graph = parse(builder(rng, **kw))
    program = compile_graph(graph, preset("npu-small"), planners=planners)
    t = graph.tensors[graph.inputs[0]]
    x = (rng.integers(-128, 128, t.shape).astype(np.int8) if t.dtype == np.int8 else
         rng.standard_normal(graph.io_layout.get(graph.inputs[0], t.shape)).astype(np.float32))
    mem, table_addr, records = load_program(program, x)
    st, off, calls = _walk(lib, mem, table_addr, program.config)
    assert st == pg.TableError.OK
    res = pg.unpack_results(mem.buf[off:].tobytes(), len(records))
    assert res["status"] == 0 and all(c > 0 for c in res["layer_cycles"])
    assert [c for c in calls] == [(r[2], r[3]) for r in records if r[0] == pg.LayerKind.NPU]
    got = read_outputs(mem, program)[0]
    want = reference.run(graph, [x])[0]
    assert got.dtype == want.dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8))
    checked, bad = check_intermediates(program, mem.buf.tobytes(), [x])
    assert checked and not bad, bad
    core = {program.layers[i].kind for i, r in zip(program.table_layers(), records, strict=True)
            if r[0] == pg.LayerKind.CORE}
    if not planners and graph.arithmetic != "onnx":
        assert core >= {"im2col", "ADD", "AVERAGE_POOL_2D"}
    if name.startswith("onnx_ort_dscnn") or name.startswith("onnx_ort_mobilenet"):
        assert "DEPTHWISE_CONV_2D" in core
    if name == "onnx_ort_resnet_avg":
        assert "AVERAGE_POOL_2D" in core
    if name.startswith("onnx_ort_resnet8_qdq"):
        assert ("ADD" in core) == name.endswith("_core")
    if name.startswith("onnx_qdq_conv") or name == "onnx_ort_resnet8_qdq_int8":
        # ungrouped unfused convolutions: the exact fast path (NPU sums, CONV_FAST_ONNX)
        # with the planners, the slow float32 kernel without them and for groups (and where
        # the sums' walk does not fit the 4x4 NPU: K = 1440, pointwise Cin = 200)
        ops = {r[1] for r in records if r[0] == pg.LayerKind.CORE}
        if name.endswith(("_ties", "_stride2", "_int8")):
            assert pg.CoreOp.CONV_FAST_ONNX in ops
        if name.endswith(("_slow", "_depthwise")):
            assert ops & {pg.CoreOp.CONV_FAST_ONNX, pg.CoreOp.CONV_FLOAT_ONNX} == \
                {pg.CoreOp.CONV_FLOAT_ONNX}


@pytest.mark.parametrize("count", [300, 65536])
def test_add_int8_every_pair(lib, count):
    """One ADD_INT8 record over every (a, b) pair (65536: the table path, staged in chunks;
    300: cpu_add_int8 itself), random scales, zero points and clamp: equal to the golden."""
    from dure.sim import golden_tflite as gt
    from dure.sim.golden_tflite_params import add_params
    rng = np.random.default_rng(count)
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8)[:count]
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8)[:count]
    s1, s2, so = (float(v) for v in rng.uniform(0.01, 0.1, 3))
    z1, z2, zo = (int(v) for v in rng.integers(-128, 128, 3))
    lo, hi = -100, 110
    p = add_params(s1, s2, so)
    want = gt.add_int8(a, b, p, input1_zero_point=z1, input2_zero_point=z2,
                       output_zero_point=zo, lo=lo, hi=hi)
    base = 0x4000_0000
    mem = lw.Mem(base, 4 * 65536)
    mem.write(base, a.tobytes())
    mem.write(base + 65536, b.tobytes())
    rec = [0] * pg.RECORD_WORDS
    rec[:6] = [pg.LayerKind.CORE, pg.CoreOp.ADD_INT8, base, base + 65536, base + 2 * 65536,
               count]
    rec[18:30] = [v & 0xFFFF_FFFF for v in (p.left_shift, p.input1_multiplier, p.input1_shift,
                                            p.input2_multiplier, p.input2_shift,
                                            p.output_multiplier, p.output_shift, z1, z2, zo,
                                            lo, hi)]
    mem.write(base + 3 * 65536, pg.pack_layer_table([rec], base + 3 * 65536 + 1024))
    st, _, _ = _walk(lib, mem, base + 3 * 65536, preset("npu-small"))
    assert st == pg.TableError.OK
    got = np.frombuffer(mem.read(base + 2 * 65536, count), np.int8)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("uint8", [False, True])
def test_add_onnx_every_pair(lib, uint8):
    """One ADD_ONNX record over every (a, b) pair, random scales, zero points and clamp: equal
    to the reference (onnxruntime's QLinearAdd arithmetic)."""
    from dure.compiler.ir import Graph, Op, OpKind, Quant, Tensor

    rng = np.random.default_rng(31 + uint8)
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8)
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8)
    n = a.size
    qs = [Quant.of(np.float32(rng.uniform(0.005, 0.2)), int(rng.integers(-128, 128)))
          for _ in range(3)]
    T = {nm: Tensor(nm, np.int8, (n,), q) for nm, q in zip("abc", qs, strict=True)}
    op = Op(OpKind.ADD, ["a", "b"], ["c"], dict(lo=-120, hi=100, uint8=uint8), 0, "add", "Add")
    graph = Graph(T, [op], ["a", "b"], ["c"], "onnx", "onnx")
    want = reference.run_op(graph, op, {"a": a, "b": b})
    ra, rb, fixed, off = reference.onnx_add_params(graph, op)
    base = 0x4000_0000
    mem = lw.Mem(base, 4 * n + 4096)
    mem.write(base, a.tobytes())
    mem.write(base + n, b.tobytes())
    rec = [0] * pg.RECORD_WORDS
    rec[:6] = [pg.LayerKind.CORE, pg.CoreOp.ADD_ONNX, base, base + n, base + 2 * n, n]
    rec[15:21] = [int(np.float32(v).view(np.uint32)) for v in (ra, rb, fixed)] + \
        [off, -120 & 0xFFFF_FFFF, 100]
    mem.write(base + 3 * n, pg.pack_layer_table([rec], base + 3 * n + 2048))
    st, _, _ = _walk(lib, mem, base + 3 * n, preset("npu-small"))
    assert st == pg.TableError.OK
    got = np.frombuffer(mem.read(base + 2 * n, n), np.int8)
    assert np.array_equal(got, want)
    assert len(np.unique(want)) > 100          # the clamp did not swallow the test


def _run_record(lib, rec, inputs, out_bytes, consts=()):
    """Run one core record: ``inputs`` (arrays) and ``consts`` placed one after the other,
    record words 2 / 3 / 4 (and 20 for a constant) patched with their addresses; returns the
    output bytes."""
    base = 0x4000_0000
    mem = lw.Mem(base, 1 << 18)
    addr, spots = base, []
    for arr in list(inputs) + list(consts):
        mem.write(addr, np.ascontiguousarray(arr).tobytes())
        spots.append(addr)
        addr += (arr.nbytes + 63) // 64 * 64
    rec = list(rec)
    rec[2] = spots[0]
    rec[3] = spots[1] if len(inputs) > 1 else 0
    if consts:
        rec[20] = spots[len(inputs)]
    rec[4] = addr
    table = addr + (out_bytes + 63) // 64 * 64
    mem.write(table, pg.pack_layer_table([rec], table + 2048))
    st, _, _ = _walk(lib, mem, table, preset("npu-small"))
    assert st == pg.TableError.OK
    return mem.read(addr, out_bytes)


@pytest.mark.parametrize("uint8", [False, True])
def test_softmax_onnx_rows(lib, uint8):
    """SOFTMAX_ONNX on many rows and depths (equal rows, saturating rows) against the
    reference."""
    from dure.compiler.ir import Graph, Op, OpKind, Quant, Tensor

    rng = np.random.default_rng(41 + uint8)
    off = 128 if uint8 else 0
    for d in (2, 10, 37):           # d = 1 overflows onnxruntime's own float32 terms
        rows = 40
        x = rng.integers(-128, 128, (rows, d)).astype(np.int8)
        x[0] = x[0, 0]
        xq = Quant.of(np.float32(rng.uniform(0.01, 0.5)), 0)
        yq = Quant.of(np.float32(1 / 256), -128)
        T = {"x": Tensor("x", np.int8, x.shape, xq), "y": Tensor("y", np.int8, x.shape, yq)}
        op = Op(OpKind.SOFTMAX, ["x"], ["y"], dict(beta=1.0, uint8=uint8), 0, "sm", "Softmax")
        graph = Graph(T, [op], ["x"], ["y"], "onnx", "onnx")
        want = reference.run_op(graph, op, {"x": x})
        rec = [0] * pg.RECORD_WORDS
        rec[:6] = [pg.LayerKind.CORE, pg.CoreOp.SOFTMAX_ONNX, 0, 0, 0, x.size]
        rec[6:8] = [rows, d]
        rec[15] = int(reference.onnx_softmax_y_scale(yq).view(np.uint32))
        rec[18:20] = [(yq.zp + off) & 0xFFFF_FFFF, off]
        table = reference.onnx_softmax_table(d, xq.s, uint8)
        got = np.frombuffer(_run_record(lib, rec, [x], x.size, [table]), np.int8)
        assert np.array_equal(got.reshape(x.shape), want), d


@pytest.mark.parametrize("dtype", [np.int8, np.float16, np.float32])
def test_transpose_every_permutation(lib, dtype):
    import itertools

    rng = np.random.default_rng(43)
    for shape in ((2, 3, 4, 5), (3, 4, 5), (6, 7)):
        x = rng.standard_normal(shape).astype(np.float32)
        x = (x * 50).astype(dtype)
        for perm in itertools.permutations(range(len(shape))):
            lead = 4 - len(shape)
            rec = [0] * pg.RECORD_WORDS
            rec[:6] = [pg.LayerKind.CORE, pg.CoreOp.TRANSPOSE, 0, 0, 0, x.size]
            rec[6:10] = [1] * lead + list(shape)
            rec[10:14] = list(range(lead)) + [p + lead for p in perm]
            rec[14] = x.itemsize
            got = np.frombuffer(_run_record(lib, rec, [x], x.nbytes), dtype)
            assert np.array_equal(got.view(np.uint8), np.ascontiguousarray(
                x.transpose(perm)).reshape(-1).view(np.uint8)), (shape, perm)


@pytest.mark.parametrize("dtype,value", [(np.int8, -7), (np.float16, 0.0), (np.float32, -2.5)])
def test_pad_constant(lib, dtype, value):
    rng = np.random.default_rng(47)
    for shape, pads in (((2, 3, 4, 5), ((0, 1), (2, 0), (1, 1), (0, 3))),
                        ((3, 4, 5), ((1, 2), (0, 0), (3, 1))), ((6, 7), ((0, 0), (0, 0)))):
        x = (rng.standard_normal(shape) * 50).astype(dtype)
        lead = 4 - len(shape)
        full = ((0, 0),) * lead + pads
        want = np.pad(x, pads, constant_values=dtype(value))
        rec = [0] * pg.RECORD_WORDS
        rec[:6] = [pg.LayerKind.CORE, pg.CoreOp.PAD, 0, 0, 0, want.size]
        rec[6:10] = [1] * lead + list(shape)
        rec[10:14] = [b for b, _ in full]
        rec[14] = x.itemsize
        rec[15] = int(np.array(value, dtype).view(f"u{x.itemsize}"))
        rec[18:22] = [e for _, e in full]
        got = np.frombuffer(_run_record(lib, rec, [x], want.nbytes), dtype)
        assert np.array_equal(got.view(np.uint8), want.reshape(-1).view(np.uint8)), shape


@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
def test_pad_layer_of_a_quantized_model(lib, fmt):
    """The PAD record the compiler writes for a Pad node of a quantize_static MobileNet
    (Keras' ZeroPadding2D) computes the reference's tensor."""
    rng = np.random.default_rng(53)
    graph = parse_onnx(om.quantized_model(rng, "mobilenet", model_kw={"pad_form": "node"},
                                          quant_format=fmt, activation_type="QUInt8"))
    program = compile_graph(graph, preset("npu-small"))
    x = rng.standard_normal(graph.io_layout[graph.inputs[0]]).astype(np.float32)
    values = reference.run_all(graph, [x])
    pads = [la for la in program.layers if la.kind == "PAD"]
    assert pads
    for layer in pads:
        rec = pg.core_record(program, layer)
        src = values[layer.reads[0]]
        want = values[layer.writes[0]]
        got = np.frombuffer(_run_record(lib, rec, [src], want.nbytes), want.dtype)
        assert np.array_equal(got, want.reshape(-1))


def test_quantize_tflite_specials(lib):
    """QUANTIZE_TFLITE on random and special float32 values (ties, Inf, NaN, huge values:
    LiteRT's integer-indefinite wrap) against the golden."""
    from dure.sim.golden_tflite_quantize import quantize_int8

    rng = np.random.default_rng(59)
    for scale, zp in ((0.05, -3), (1.0, 17), (0.003, 100), (2.0 ** -20, -128)):
        x = np.concatenate([
            (rng.standard_normal(3000) * 200 * scale).astype(np.float32),
            ((np.arange(-300, 300) + 0.5) * np.float32(scale)).astype(np.float32),
            _f32_specials(rng, 2000).view(np.float32)])
        want = quantize_int8(x, scale, zp)
        rec = [0] * pg.RECORD_WORDS
        rec[:6] = [pg.LayerKind.CORE, pg.CoreOp.QUANTIZE_TFLITE, 0, 0, 0, x.size]
        rec[15] = int(np.float32(scale).view(np.uint32))
        rec[18] = zp & 0xFFFF_FFFF
        got = np.frombuffer(_run_record(lib, rec, [x], x.size), np.int8)
        assert np.array_equal(got, want), (scale, zp)


@pytest.mark.parametrize("uint8", [False, True])
@pytest.mark.parametrize("include_pad", [False, True])
def test_avg_pool_onnx_windows(lib, uint8, include_pad):
    """AVG_POOL_ONNX (QLinearAveragePool's float path) on padded and strided windows against
    the reference, through the record the compiler writes."""
    from dure.compiler.ir import Graph, Op, OpKind, Quant, Tensor, explicit_padding

    rng = np.random.default_rng(61 + uint8 + 2 * include_pad)
    x = rng.integers(-128, 128, (2, 7, 6, 5)).astype(np.int8)
    for filt, stride, padding in (((3, 3), (1, 1), (1, 1, 1, 1)), ((2, 3), (2, 2), (0, 1, 1, 0)),
                                  ((3, 2), (2, 1), "SAME"), ((2, 2), (2, 2), "VALID")):
        oh, ow, _ = explicit_padding(padding, 7, 6, *filt, stride, 1)
        xq = Quant.of(np.float32(rng.uniform(0.01, 0.2)), int(rng.integers(-20, 20)))
        yq = Quant.of(np.float32(rng.uniform(0.01, 0.2)), int(rng.integers(-20, 20)))
        T = {"x": Tensor("x", np.int8, x.shape, xq),
             "y": Tensor("y", np.int8, (2, oh, ow, 5), yq)}
        op = Op(OpKind.AVERAGE_POOL_2D, ["x"], ["y"], dict(
            filter=filt, stride=stride, padding=padding, lo=-100, hi=120, uint8=uint8,
            count_include_pad=include_pad), 0, "pool", "AveragePool")
        graph = Graph(T, [op], ["x"], ["y"], "onnx", "onnx")
        want = reference.run_op(graph, op, {"x": x})

        class _P:          # what core_record reads of a program
            pass
        prog = _P()
        prog.graph, prog.tensor_addr, prog.weight_addr = graph, {"x": 0, "y": 0}, {}
        prog.buffers = {"y": (np.int8, (2, oh, ow, 5))}
        layer = pg.Layer("AVERAGE_POOL_2D", "core", op, ["x"], ["y"])
        rec = pg.core_record(prog, layer)
        assert rec[1] == pg.CoreOp.AVG_POOL_ONNX
        got = np.frombuffer(_run_record(lib, rec, [x], want.size), np.int8)
        assert np.array_equal(got.reshape(want.shape), want), (filt, stride, padding)


def _f32_specials(rng, n):
    bits = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    specials = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 1, 0x807FFFFF,
                         0x00800000, 0x7F7FFFFF, 0x3F800000, 0x3F800001, 0x33800000],
                        np.uint32)
    pick = rng.random(n)
    bits = np.where(pick < 0.1, specials[rng.integers(0, len(specials), n)], bits)
    near = (rng.standard_normal(n) * 10).astype(np.float32).view(np.uint32)
    return np.where(pick > 0.6, near, bits)


def test_f32_div_matches_ieee(lib):
    """lt_f32_div (QuantizeLinear's x / scale) is the IEEE binary32 quotient, RNE."""
    rng = np.random.default_rng(4)
    fn = lib.lt_f32_div
    fn.argtypes, fn.restype = [ctypes.c_uint32, ctypes.c_uint32], ctypes.c_uint32
    a, b = _f32_specials(rng, 20000), _f32_specials(rng, 20000)
    with np.errstate(all="ignore"):
        want = (a.view(np.float32) / b.view(np.float32)).view(np.uint32)
    got = np.array([fn(int(x), int(y)) for x, y in zip(a, b, strict=True)], np.uint32)
    nan = np.isnan(want.view(np.float32))
    assert np.array_equal(np.isnan(got.view(np.float32)), nan)
    assert np.array_equal(got[~nan], want[~nan])


def test_header_constants_match():
    text = (lw.WALKER / "layer_table.h").read_text()
    consts = dict(re.findall(r"#define (LT_\w+) (0x[0-9A-Fa-f]+|\d+)u", text))
    assert int(consts["LT_MAGIC"], 0) == pg.TABLE_MAGIC
    assert int(consts["LT_VERSION"], 0) == pg.TABLE_VERSION
    assert int(consts["LT_RECORD_WORDS"]) == pg.RECORD_WORDS
    assert int(consts["LT_HEADER_WORDS"]) == pg.HEADER_WORDS
    assert int(consts["LT_MAX_LAYERS"]) == pg.MAX_LAYERS
    for e in pg.TableError:
        want = "LT_OK" if e is pg.TableError.OK else f"LT_E_{e.name}"
        assert re.search(rf"\b{want} = {int(e)}\b", text), want
    for op in pg.CoreOp:
        assert re.search(rf"\bLT_OP_{op.name} = {int(op)}\b", text), op.name


@pytest.fixture(scope="module")
def small():
    # without the element-wise unit: ADD and MAX_POOL stay core layers for the cases to patch
    config = dataclasses.replace(preset("npu-small"), npu_eltwise=False,
                                 npu_eltwise_handover=False)
    program = compile_graph(parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(5), h=6, w=6,
                                                            c=6)), config)
    x = np.random.default_rng(6).integers(-128, 128, (1, 6, 6, 3)).astype(np.int8)
    return program, x


def _patched(lib, load, program, x, edit):
    mem, table_addr, records = load(program, x)
    words = np.frombuffer(mem.read(table_addr, 4 * (pg.HEADER_WORDS + pg.RECORD_WORDS *
                                                    len(records))), "<u4").copy()
    walk_at = edit(words, records, mem, table_addr) or table_addr
    mem.write(table_addr, words.tobytes())
    return _walk(lib, mem, walk_at, program.config), mem


def _core_index(records, op):
    return next(i for i, r in enumerate(records) if r[0] == 2 and r[1] == op)


def _rec(i, w):
    return pg.HEADER_WORDS + pg.RECORD_WORDS * i + w


@pytest.mark.parametrize("case,status", [
    ("magic", pg.TableError.MAGIC),
    ("version", pg.TableError.VERSION),
    ("count", pg.TableError.HEADER),
    ("results", pg.TableError.HEADER),
    ("table", pg.TableError.NO_TABLE),
    ("kind", pg.TableError.KIND),
    ("op", pg.TableError.OP),
    ("out_range", pg.TableError.RANGE),
    ("list_range", pg.TableError.RANGE),
    ("geometry", pg.TableError.ARG),
    ("huge_count", pg.TableError.RANGE),
    ("softmax_shape", pg.TableError.ARG),
    ("npu", pg.TableError.NPU),
])
def test_bad_table_named_error(lib, load_program, small, case, status):
    program, x = small

    def edit(w, records, mem, table_addr):
        if case == "magic":
            w[0] ^= 1
        elif case == "version":
            w[1] = 2
        elif case == "count":
            w[2] += 1
        elif case == "results":
            w[5] = 0x1000
        elif case == "table":
            return 0x3000_0000
        elif case == "kind":
            w[_rec(1, 0)] = 7
        elif case == "op":
            w[_rec(_core_index(records, pg.CoreOp.SOFTMAX_INT8), 1)] = 99
        elif case == "out_range":
            w[_rec(_core_index(records, pg.CoreOp.ADD_INT8), 4)] = mem.base + len(mem.buf) - 4
        elif case == "list_range":
            w[_rec(0, 3)] = 1 << 24
        elif case == "geometry":
            w[_rec(_core_index(records, pg.CoreOp.MAX_POOL_INT8), 5)] += 1
        elif case == "huge_count":
            w[_rec(_core_index(records, pg.CoreOp.ADD_INT8), 5)] = 0xFFFF_FFFF
        elif case == "softmax_shape":
            w[_rec(_core_index(records, pg.CoreOp.SOFTMAX_INT8), 6)] += 1
        elif case == "npu":
            first = w[_rec(0, 2)]
            mem.write(first, struct.pack("<8I", 0xFF, 0, 0, 0, 0, 0, 0, 0))
        return None

    (st, off, _), mem = _patched(lib, load_program, program, x, edit)
    assert st == status
    if case in ("magic", "version", "count", "results", "table"):
        assert off == 0xFFFF_FFFF
        return
    res = pg.unpack_results(mem.buf[off:].tobytes(), len(program.table_layers()))
    assert res["status"] == status
    bad_layer = {"kind": 1, "list_range": 0, "npu": 0}.get(case)
    if bad_layer is not None:
        assert res["layer"] == bad_layer
    if case == "npu":
        assert res["npu_error"] != 0 and res["npu_index"] == 0


def test_requantize_tflite_record_every_input(lib):
    """REQUANTIZE_TFLITE (TFLite's int8 -> int8 QUANTIZE) on every int8 value against the
    golden, with the record words core_record writes."""
    from dure.sim.golden_tflite_quantize import requantize_int8, requantize_multiplier

    x = np.arange(-128, 128, dtype=np.int8)
    for s_in, s_out, zp_in, zp_out in ((0.05, 0.1, 3, -7), (0.1, 0.013, -128, 127),
                                       (1.7, 0.004, 12, -100)):
        m, shift = requantize_multiplier(s_in, s_out)
        rec = [0] * pg.RECORD_WORDS
        rec[:6] = [pg.LayerKind.CORE, pg.CoreOp.REQUANTIZE_TFLITE, 0, 0, 0, x.size]
        rec[18:22] = [int(v) & 0xFFFF_FFFF for v in (m, shift, zp_in, zp_out)]
        got = np.frombuffer(_run_record(lib, rec, [x], x.size), np.int8)
        assert np.array_equal(got, requantize_int8(x, s_in, zp_in, s_out, zp_out))


def test_softmax_fp16_record(lib):
    """SOFTMAX_FP16 rows (6 rows x 7 depth words) against the golden, beta in word 18."""
    from dure.sim.golden_softmax_fp16 import softmax_fp16

    rng = np.random.default_rng(61)
    x = (rng.standard_normal((3, 37)) * 6).astype(np.float16)
    x[1, 4] = np.inf
    rec = [0] * pg.RECORD_WORDS
    rec[:6] = [pg.LayerKind.CORE, pg.CoreOp.SOFTMAX_FP16, 0, 0, 0, x.size]
    rec[6:8] = [3, 37]
    rec[18] = int(np.float32(0.75).view(np.uint32))
    got = np.frombuffer(_run_record(lib, rec, [x], x.nbytes), np.uint16)
    assert np.array_equal(got, softmax_fp16(x, 0.75).view(np.uint16).reshape(-1))
    rec[6] = 2                                                 # rows x depth != count
    with pytest.raises(AssertionError):
        _run_record(lib, rec, [x], x.nbytes)


def test_lists_in_the_list_region(lib, load_program, small):
    """An NPU record's list outside main memory is refused (RANGE) unless it lies wholly in
    the environment's list region (``lt_env.list_base / list_size``: the part of on-chip RAM
    npu_model_run leaves free, where dure.compiler.soc places the lists on a SoC with
    ``npu_list_port``); then the walker rings it at that address."""
    program, x = small
    ram_list, count = 0x8001_0000, None
    calls = []

    def one(list_addr, n, index):
        calls.append((list_addr, n))
        index[0] = 0
        return 5                                       # stop the walk at this layer

    def run(region):
        nonlocal count
        mem, table_addr, records = load_program(program, x)
        words = np.frombuffer(mem.read(table_addr, 4 * (pg.HEADER_WORDS + pg.RECORD_WORDS *
                                                        len(records))), "<u4").copy()
        count = int(words[_rec(0, 3)])
        words[_rec(0, 2)] = ram_list
        mem.write(table_addr, words.tobytes())
        lib.set_list_region(*region)
        try:
            off = ctypes.c_uint32()
            st = lib.walk(mem.buf.ctypes.data, mem.base, len(mem.buf), table_addr,
                          lw.LIST_CB(one), ctypes.cast(None, lw.TILES_CB), ctypes.byref(off))
        finally:
            lib.set_list_region(0, 0)
        return st

    assert run((0, 0)) == pg.TableError.RANGE and not calls
    assert run((ram_list, 32 * count - 32)) == pg.TableError.RANGE and not calls
    assert run((ram_list + 4, 32 * count)) == pg.TableError.RANGE and not calls
    assert run((ram_list - 64, 64 + 32 * count)) == pg.TableError.NPU
    assert calls == [(ram_list, count)]
