"""compiler/fc_store.py: a TFLite FULLY_CONNECTED whose accumulators reach session 19's knife
edge compiles to STORE parameters under which the NPU (GEMV and GEMM paths) and the dot-unit
target equal LiteRT; with QuantizeMultiplier's single-rounding parameters (the compiler before
session 20) they do not."""

import numpy as np
import pytest
from dure.compiler.dot_target import compile_dot
from dure.compiler.execute import run_program
from dure.compiler.fc_store import fc_store_params
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.rtl.npu.commands import RequantMode
from dure.sim.golden_requant_tflite import requantize_tflite
from dure.sim.golden_tflite_params import fully_connected_multipliers
from dure.sim.verif import tflite_builder as tb
from dure.sim.verif.fc_models import KNIFE_ACCS, KNIFE_SCALES, knife_edge_inputs, knife_edge_model
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset

XS, WS, YS = KNIFE_SCALES


@pytest.mark.parametrize("batch", [1, 5], ids=["gemv", "gemm"])
@pytest.mark.parametrize("target", ["sim", "icebreaker"])
def test_knife_edge_layer_equals_litert(target, batch):
    data = knife_edge_model(batch)
    graph = parse_tflite(data)
    config = preset(target)
    program = compile_dot(graph, config) if target == "icebreaker" else \
        compile_graph(graph, config)
    x = knife_edge_inputs(batch)
    got = run_program(program, [x])[0][0]
    want = run_reference(data, x)[0]
    assert np.array_equal(got, want)
    assert want[0, :4].tolist() == [-57, -50, 50, 57]


def test_quantize_multiplier_alone_would_miss_it():
    graph = parse_tflite(knife_edge_model(1))
    op = next(o for o in graph.ops if o.kind.value == "FULLY_CONNECTED")
    mode, mult, shift = fc_store_params(graph, op)
    m0, s0 = fully_connected_multipliers(XS, WS, YS, channels=8)
    acc = np.array([KNIFE_ACCS], np.int32)
    old = requantize_tflite(acc, m0[:4], s0[:4], 0, single_rounding=True)
    new = requantize_tflite(acc, mult[:4], shift[:4], 0,
                            single_rounding=mode is RequantMode.TFLITE_SINGLE_ROUNDING)
    assert old[0].tolist() == [-56, -49, 49, 56] and new[0].tolist() == [-57, -50, 50, 57]
    assert len(set(mult.tolist())) == 1             # one multiplier: the per-tensor GEMV path


@pytest.mark.parametrize("seed", range(6))
def test_random_fc_layers_equal_litert(seed):
    """Random per-tensor and per-channel FULLY_CONNECTED layers (scales down to 2**-22, large
    biases, zero points at the extremes) compiled for the 8x8 SoC: the command model equals
    LiteRT on random inputs and on the inputs at the ends of the reachable range."""
    rng = np.random.default_rng(seed)
    batch, k, units = int(rng.choice([1, 3])), int(rng.integers(1, 40)), int(rng.integers(8, 20))
    xs = float(np.float32(2.0 ** rng.uniform(-8, 0)))
    ws = np.float32(2.0 ** rng.uniform(-10, -7, units if seed % 2 else 1)).astype(np.float32)
    ys = float(np.float32(xs * float(np.median(ws)) * 2.0 ** rng.uniform(8, 22)))
    xz, yz = int(rng.choice([-128, 0, 127])), int(rng.integers(-128, 128))
    w = rng.integers(-127, 128, (units, k)).astype(np.int8)
    bias = rng.integers(-2 ** 24, 2 ** 24, units).astype(np.int32)
    data = tb.fully_connected_model((batch, k), w, bias, tb.Quant(xs, xz),
                                    tb.Quant(ws, 0, 0), tb.Quant(ys, yz))
    program = compile_graph(parse_tflite(data), preset("sim"))
    xs_in = [rng.integers(-128, 128, (batch, k)).astype(np.int8) for _ in range(3)]
    xs_in += [np.full((batch, k), v, np.int8) for v in (-128, 127)]
    for x in xs_in:
        assert np.array_equal(run_program(program, [x])[0][0], run_reference(data, x)[0])
