"""Compiled programs on the simulated SoC (npu-small variant), the whole model in one run of
the npu_model_run firmware: it walks the layer table, NPU layers as LIST doorbells, core layers
(ADD, MAX_POOL, RESHAPE, SOFTMAX, QuantizeLinear, ...) with the C kernels; the outputs equal the
reference (and LiteRT / onnxruntime) bit for bit, so do the intermediate tensors still in
memory, the NPU's MAC counter equals the program's NPU MACs, every layer is timed. A float
model's FP16 SOFTMAX runs on the core too (cpu_softmax_fp16)."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.errors import UnsupportedModel
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.compiler.soc import check_intermediates, run_program_soc
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm
from dure.sim.verif import onnx_models as om
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset


def _input(rng, graph):
    t = graph.tensors[graph.inputs[0]]
    shape = graph.io_layout.get(graph.inputs[0], t.shape)
    if t.dtype == np.int8:
        dtype = np.uint8 if graph.inputs[0] in graph.io_offset else np.int8
        return rng.integers(-128, 128, shape).astype(dtype) if dtype == np.int8 else \
            rng.integers(0, 256, shape).astype(dtype)
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("name,builder,kw,parse,fallback", [
    ("int8_mlp", cm.tflite_int8_mlp, {"batch": 5, "sizes": (24, 20, 10)}, parse_tflite, False),
    # ADD, MAX_POOL, RESHAPE and SOFTMAX on the core
    ("int8_cnn", cm.tflite_int8_cnn, {"h": 6, "w": 6, "c": 6}, parse_tflite, False),
    # FP16 SOFTMAX on the core (cpu_softmax_fp16)
    ("float_cnn", cm.tflite_float_cnn, {"h": 6, "w": 6, "c": 6}, parse_tflite, False),
    # the host fallback: the same model with its SOFTMAX record taken away (as for a core
    # operator without a C kernel), computed by the host between two firmware runs
    ("float_cnn_host", cm.tflite_float_cnn, {"h": 6, "w": 6, "c": 6}, parse_tflite, True),
    # walked 10x4 stride-2 convolution, depthwise and average pooling (compiler/npu_ops.py)
    ("int8_dscnn", cm.tflite_int8_dscnn, {"c": 16, "blocks": 1}, parse_tflite, False),
    # ONNX QDQ: QuantizeLinear / DequantizeLinear on the core (float32 in and out)
    ("onnx_qdq_mlp", cm.onnx_qdq_mlp, {"batch": 3}, parse_onnx, False),
    # FP16 without softmax: the whole model in one run (ADD, global pooling on the NPU)
    ("fp16_resnet", cm.onnx_float_resnet, {"h": 6, "w": 6, "c": 4}, parse_onnx, False),
    # quantize_static ResNet-8 as tf2onnx writes it: TRANSPOSE, global pooling and SOFTMAX
    # with C kernels, ONNX ADDs on the element-wise unit (compiler/onnx_add.py), the whole
    # model in one run
    ("onnx_ort_resnet8", om.quantized_model, {"name": "resnet8", "model_kw": {
        "size": 6, "channels": (4, 8, 8), "nhwc_input": True, "flatten": "nhwc-reshape"}},
     parse_onnx, False),
    # QOperator uint8 DS-CNN: convolutions and the depthwise walked (FLOAT_SCALE STORE)
    ("onnx_ort_dscnn", om.quantized_model, {"name": "dscnn", "model_kw": {"blocks": 1},
                                            "quant_format": "QOperator",
                                            "activation_type": "QUInt8"}, parse_onnx, False),
])
def test_program_on_the_soc(name, builder, kw, parse, fallback, monkeypatch):
    if fallback:
        from dure.compiler import program as pg
        real = pg.core_record
        monkeypatch.setattr(pg, "core_record", lambda program, layer: None if
                            layer.kind == "SOFTMAX" else real(program, layer))
    rng = np.random.default_rng(21)
    model = builder(rng, **kw)
    graph = parse(model)
    program = compile_graph(graph, preset("npu-small"))
    x = _input(rng, graph)
    if fallback:
        with pytest.raises(UnsupportedModel, match="no C kernel on the core for layer"):
            run_program_soc(program, [x])
    got, run = run_program_soc(program, [x], host_fallback=fallback)
    want = reference.run(graph, [x])[0]
    assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8)), name
    if graph.arithmetic == "tflite":
        assert np.array_equal(got[0], run_reference(model, x)[0])
    if graph.arithmetic == "onnx":
        from dure.sim.verif.onnx_ref import run_onnx
        assert np.array_equal(got[0].view(np.uint8), run_onnx(model, x)[0].view(np.uint8))
    checked, bad = check_intermediates(program, run.image, [x])
    assert checked and not bad, (checked, bad)
    host = [i for i, la in enumerate(program.layers) if la.where == "core" and
            (fallback and la.kind == "SOFTMAX")]
    assert bool(host) == fallback
    assert run.host_layers == host
    assert len(run.segments) == (1 if not host else 1 + (host[-1] < len(program.layers) - 1))
    walked = sorted(i for s in run.segments for i in s.layers)
    # alias layers (a RESHAPE viewing its input's bytes) have no record and take 0 cycles
    aliases = [i for i, la in enumerate(program.layers) if la.kind == "alias"]
    assert walked == [i for i in range(len(program.layers)) if i not in host + aliases]
    assert all(run.layer_cycles[i] == 0 for i in aliases)
    npu_layers = [i for i, la in enumerate(program.layers) if la.where == "npu"]
    assert run.macs == sum(program.layers[i].array_macs for i in npu_layers)
    assert all(run.layer_cycles[i] > 0 for i in walked)
    assert all(s.cycles >= sum(s.layer_cycles) for s in run.segments)


def test_list_placement():
    """The command lists go to on-chip RAM after the npu_model_run image (16-byte aligned,
    below the 16 KiB stack reserve) on a variant whose LIST fetcher has a path of its own
    there; to main memory when they do not fit or the variant has no such path."""
    import dataclasses

    from dure.compiler.soc import list_placement, runner_program
    from dure.sim.elf import load_elf
    from dure.sim.npu_job_build import job_elf
    from dure.sim.npu_job_table import STACK_RESERVE

    config = preset("npu-small")
    assert config.npu_list_port
    elf = job_elf(config, *runner_program(config))
    ram = config.region("ram")
    top = max(a + len(d) for a, d in load_elf(elf, config).segments if a >= ram.base)
    free = ram.base + ram.size - STACK_RESERVE - (top + 15) // 16 * 16
    main_at = config.region("main").base + 0x1000
    assert list_placement(config, elf, 32 * 40, main_at) == ((top + 15) // 16 * 16, True)
    assert list_placement(config, elf, free, main_at)[1]
    assert list_placement(config, elf, free + 16, main_at) == (main_at, False)
    assert list_placement(config, elf, 0, main_at) == (main_at, False)
    plain = dataclasses.replace(config, npu_list_port=False)
    assert list_placement(plain, elf, 32 * 40, main_at) == (main_at, False)
