"""Batch-1 FULLY_CONNECTED layers on the GEMV plan (compiler/npu_gemv.py): chosen for INT8
TFLite and FP16 models, bit-exact with LiteRT / the FP16 reference on the golden command model
and equal to the GEMM path's output, per-channel (STOREs with per-row parameters,
``lane_scales``) and per-tensor (one multiplier) weights, shapes that are not multiples of
the array, bad arguments."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.npu_gemv import fc_gemv_program
from dure.compiler.tflite_frontend import parse_tflite
from dure.rtl.npu.commands import Opcode, RequantMode
from dure.rtl.npu.descriptor import decode
from dure.sim.verif import mlperf_models as mm
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset

UNITS = (13, 8, 21, 9)         # N not a multiple of C, a bottleneck, K = 37 not a multiple of R


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
@pytest.mark.parametrize("per_channel", [True, False])
def test_int8_fc_layers_on_the_gemv_plan(variant, per_channel):
    rng = np.random.default_rng(20)
    model = mm.autoencoder(rng, inputs=37, units=UNITS, per_channel=per_channel)
    graph = parse_tflite(model)
    program = compile_graph(graph, preset(variant))
    assert [la.kind for la in program.layers] == ["gemv"] * len(UNITS)
    assert all(la.writes == [la.op.outputs[0]] for la in program.layers)     # no scratch
    stores = [f for la in program.layers for op, f in map(decode, la.commands)
              if op == Opcode.STORE]
    assert all(f["lane_scales"] == per_channel for f in stores)
    # Every layer but the first had its leading weight LOADs moved into the previous layer's
    # tail (prefetch_next): the SPAD LOADs before its first COMPUTE read the activations only.
    for la in program.layers[1:]:
        head = [f for op, f in map(decode, la.commands)][:[decode(d)[0] for d in
                                                           la.commands].index(Opcode.COMPUTE)]
        spad = [f for f in head if f["target"] == 0]
        assert spad and all(f["dram_addr"] >= program.arena_base for f in spad)
    for la in program.layers[:-1]:
        ops = [decode(d)[0] for d in la.commands]
        assert ops[-1] == Opcode.FENCE and ops[-2] == Opcode.LOAD
    # Consecutive GEMV layers alternate their placement (flip): a layer's first block writes
    # other ACC rows than the previous layer's last block, so the prefetched bias LOAD need not
    # wait for the previous layer's STOREs.
    blocks = [[set(range(f["acc_addr"], f["acc_addr"] + f["m"])) for op, f in
               map(decode, la.commands) if op == Opcode.COMPUTE] for la in program.layers]
    assert all(not x[-1] & y[0] for x, y in zip(blocks, blocks[1:], strict=False))
    gemm = compile_graph(graph, preset(variant), gemv=False)
    assert [la.kind for la in gemm.layers] == ["gemm"] * len(UNITS)
    for _ in range(3):
        x = rng.integers(-128, 128, (1, 37)).astype(np.int8)
        got, _ = run_program(program, [x])
        assert np.array_equal(got[0], run_reference(model, x)[0])
        assert np.array_equal(got[0], run_program(gemm, [x])[0][0])


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
def test_fp16_fc_layers_on_the_gemv_plan_with_the_clamp(variant):
    rng = np.random.default_rng(21)
    graph = parse_tflite(mm.autoencoder(rng, precision="float", inputs=37, units=UNITS))
    program = compile_graph(graph, preset(variant), "fp16")
    assert [la.kind for la in program.layers] == ["gemv"] * len(UNITS)
    gemm = compile_graph(graph, preset(variant), "fp16", gemv=False)
    x = rng.standard_normal((1, 37)).astype(np.float32)
    got, _ = run_program(program, [x])
    want = reference.run(graph, [x])[0]
    assert np.array_equal(got[0].view(np.uint32), want.view(np.uint32))
    assert np.array_equal(got[0].view(np.uint32), run_program(gemm, [x])[0][0].view(np.uint32))
    values = reference.run_all(graph, [x])
    assert np.all(values[graph.ops[0].outputs[0]] >= 0)      # ReLU layers: the clamp is used


def test_batch_above_one_or_few_units_keep_the_gemm_path():
    rng = np.random.default_rng(22)
    graph = parse_tflite(mm.autoencoder(rng, inputs=37, units=UNITS, batch=2))
    assert {la.kind for la in compile_graph(graph, preset("sim")).layers} == {"gemm"}
    graph = parse_tflite(mm.autoencoder(rng, inputs=37, units=(7, 8)))
    assert [la.kind for la in compile_graph(graph, preset("sim")).layers] == ["gemm", "gemv"]


def test_bad_arguments():
    config = preset("sim")
    w = np.ones((8, 8), np.int8)
    common = dict(x_addr=0x4000_0000, out_addr=0x4000_0100, param_addr=0x4000_0200,
                  bias=None, lo=-128, hi=127)
    with pytest.raises(ValueError, match="needs multiplier and shift"):
        fc_gemv_program(config, w, precision="int8", **common)
    with pytest.raises(ValueError, match="FLOAT_SCALE needs scale"):
        fc_gemv_program(config, w, precision="int8", mode=RequantMode.FLOAT_SCALE, **common)
    with pytest.raises(ValueError, match="precision must be"):
        fc_gemv_program(config, w, precision="int4", **common)
    with pytest.raises(ValueError, match="8 channels need 8 multipliers"):
        fc_gemv_program(config, w, precision="int8",
                        multiplier=[1 << 30] * 3, shift=[0] * 3, **common)


def test_prefetch_next_moves_only_constant_loads_at_the_head():
    """The leading LOADs of the next layer that read the constants move in front of the
    first layer's FENCE; the activation LOAD, everything after the first COMPUTE, and an ACC
    LOAD reaching the first layer's STORE parameter rows stay; a list without its FENCE is
    refused."""
    from dure.compiler.npu_gemv import prefetch_next
    from dure.rtl.npu.commands import ElemType, LoadTarget, OutType, Precision
    from dure.rtl.npu.descriptor import encode

    blob = (0x1000, 0x2000)

    def load(addr, target=LoadTarget.SPAD, local=0, rows=4):
        return encode(Opcode.LOAD, target=target, elem=ElemType.WORD32 if target.value
                      else ElemType.INT8, dram_addr=addr, dram_stride=4, rows=rows, cols=1,
                      local_addr=local)
    store = encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                   requant=RequantMode.TFLITE_SINGLE_ROUNDING.value, lo=-128, hi=127,
                   dram_addr=0x3000, dram_stride=1, rows=4, cols=1, acc_addr=0, scale_addr=60)
    compute = encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=8,
                     acc_addr=0, m=4, k=4, n=1)
    fence = encode(Opcode.FENCE)
    prev = [load(0x1000), compute, store, fence]
    act, w0 = load(0x3000, local=8), load(0x1100)
    bias, par = load(0x1200, LoadTarget.ACC, 0), load(0x1300, LoadTarget.ACC, 58)
    late = load(0x1400, local=20)
    nxt = [act, w0, bias, par, compute, late]
    a, b = prefetch_next(prev, nxt, blob)
    assert a == [*prev[:-1], w0, bias, fence]
    assert b == [act, par, compute, late]
    with pytest.raises(ValueError, match="FENCE"):
        prefetch_next(prev[:-1], nxt, blob)
