"""The exact fallback of a TFLite FULLY_CONNECTED (compiler/fc_store.py, lower_layers.
fc_fallback_layers): the NPU's raw int32 sums into ``<out>/acc``, then the core's double
rescale (``fc_rescale``). Forced on layers the STORE could compute, and taken on its own by a
layer the compiler refused before (a reachable ``|acc * s| >= 2^29``, products out of int32):
the program on the golden command model (the IR executor) equals LiteRT bit for bit."""

import numpy as np
import pytest
from dure.compiler.errors import UnsupportedModel
from dure.compiler.execute import run_program
from dure.compiler.fc_store import fc_store_exact, fc_store_params
from dure.compiler.layer_table import CoreOp
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import fc_models
from dure.sim.verif import tflite_builder as tb
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset


def _fc_op(graph):
    return next(o for o in graph.ops if o.kind.value == "FULLY_CONNECTED")


def _kinds(program):
    return [la.kind for la in program.layers]


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("variant", ["sim", "npu-small"])
def test_forced_fallback_on_the_knife_edge_equals_litert(variant, batch):
    data = fc_models.knife_edge_model(batch)
    graph = parse_tflite(data)
    program = compile_graph(graph, preset(variant), fc_fallback=True)
    assert _kinds(program) == ["gemm", "fc_rescale"]
    gemm, rescale = program.layers
    assert gemm.writes == rescale.reads == [f"{graph.outputs[0]}/acc"]
    assert program.buffers[gemm.writes[0]] == (np.dtype(np.int32), (batch, 8))
    assert program.layer_records(program.table_layout()[0])[1][1] == CoreOp.FC_RESCALE_TFLITE
    x = fc_models.knife_edge_inputs(batch)
    got = run_program(program, [x])[0][0]
    want = run_reference(data, x)[0]
    assert np.array_equal(got, want)
    assert want[0, :4].tolist() == [-57, -50, 50, 57]


@pytest.mark.parametrize("seed", range(4))
def test_forced_fallback_random_layers_equal_litert(seed):
    data = fc_models.random_fc_model(np.random.default_rng(seed))
    graph = parse_tflite(data)
    program = compile_graph(graph, preset("sim"), fc_fallback=True)
    assert "fc_rescale" in _kinds(program) and "gemv" not in _kinds(program)
    rng = np.random.default_rng(100 + seed)
    shape = graph.tensors[graph.inputs[0]].shape
    for x in [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(3)] + \
            [np.full(shape, v, np.int8) for v in (-128, 127)]:
        assert np.array_equal(run_program(program, [x])[0][0], run_reference(data, x)[0])


@pytest.mark.parametrize("zp", [-5, 0, 7])
@pytest.mark.parametrize("batch", [1, 3])
def test_layer_refused_before_now_compiles_and_equals_litert(zp, batch):
    """Scale 4 and biases near +-2^29: products reach and pass 2^31 (LiteRT: INT32_MIN, then
    the zero point wraps: -128 at zp >= 0, 127 at zp < 0); fc_store has no exact STORE."""
    data = fc_models.overflow_model(batch, zp)
    graph = parse_tflite(data)
    op = _fc_op(graph)
    with pytest.raises(UnsupportedModel, match="cannot be requantized exactly"):
        fc_store_params(graph, op)
    assert fc_store_exact(graph, op) is None
    program = compile_graph(graph, preset("sim"))
    assert _kinds(program) == ["gemm", "fc_rescale"]
    for x in fc_models.overflow_inputs(batch):
        got = run_program(program, [x])[0][0]
        want = run_reference(data, x)[0]
        assert np.array_equal(got, want)
    # the overflowing units really overflow (the saturating answer would differ)
    assert (want[:, 0] == (127 if zp < 0 else -128)).all()


def test_exact_layers_keep_the_store():
    """Without the option a layer with exact STORE parameters takes no fallback."""
    graph = parse_tflite(fc_models.knife_edge_model(5))
    assert _kinds(compile_graph(graph, preset("sim"))) == ["gemm"]
    graph = parse_tflite(fc_models.knife_edge_model(1))
    assert _kinds(compile_graph(graph, preset("sim"))) == ["gemv"]


@pytest.mark.parametrize("variant", [
    "npu-small",
    # the 8x8 SoC's Verilator model is not built in make test (README, "What runs where")
    pytest.param("sim", marks=pytest.mark.slow),
])
def test_fallback_on_the_soc_equals_litert(variant):
    """The whole program on the simulated SoC (npu_model_run: the GEMM's raw INT32 STOREs, then
    cpu_fc_rescale_tflite on the core): a layer that overflows int32 and the forced knife
    edge, each equal to LiteRT; the rescale's cycles per output are in the layer timing."""
    from dure.compiler.soc import run_program_soc

    for data, x, force in ((fc_models.overflow_model(3, -5), fc_models.overflow_inputs(3)[0],
                            False),
                           (fc_models.knife_edge_model(5), fc_models.knife_edge_inputs(5),
                            True)):
        graph = parse_tflite(data)
        program = compile_graph(graph, preset(variant), fc_fallback=force)
        assert _kinds(program) == ["gemm", "fc_rescale"]
        got, run = run_program_soc(program, [x])
        assert np.array_equal(got[0], run_reference(data, x)[0])
        assert all(c > 0 for c in run.layer_cycles)


@pytest.mark.parametrize("force", [True, False], ids=["knife_forced", "overflow"])
def test_fallback_on_the_dot_target_equals_litert(force):
    """The iCEBreaker (dot unit, no NPU): the same layers as one ``dot_dense`` with LiteRT's
    float64 rescale (ROUNDING_DOUBLE_RESCALE), from the command-model run."""
    from dure.compiler.dot_target import ROUNDING_DOUBLE_RESCALE, compile_dot

    batch = 3
    data = fc_models.knife_edge_model(batch) if force else fc_models.overflow_model(batch, -5)
    xs = [fc_models.knife_edge_inputs(batch)] if force else fc_models.overflow_inputs(batch)
    program = compile_dot(parse_tflite(data), preset("icebreaker"), fc_fallback=force)
    assert [la.params["rounding"] for la in program.layers if la.kind == "dot_dense"] == \
        [ROUNDING_DOUBLE_RESCALE]
    for x in xs:
        assert np.array_equal(run_program(program, [x])[0][0], run_reference(data, x)[0])


def test_fallback_on_the_icebreaker_soc_equals_litert():
    """The dot_model_run firmware on the simulated iCEBreaker (``icebreaker-elf``): the
    streamed sums, then cpu_scale_round_double per output, equal LiteRT (K = 4: streams)."""
    from dure.compiler.dot_target import compile_dot
    from dure.compiler.soc import run_program_soc

    rng = np.random.default_rng(9)
    w = rng.integers(-127, 128, (6, 4)).astype(np.int8)
    bias = np.array([700_000_000, -700_000_000, 3, -3, 0, 12], np.int32)
    data = tb.fully_connected_model((2, 4), w, bias, tb.Quant(1.0, 0), tb.Quant(1.0, 0, 0),
                                    tb.Quant(0.3, -5))
    graph = parse_tflite(data)
    program = compile_dot(graph, preset("icebreaker-elf"))
    x = rng.integers(-128, 128, (2, 4)).astype(np.int8)
    got, _ = run_program_soc(program, [x])
    want = run_reference(data, x)[0]
    assert np.array_equal(got[0], want)
    assert (want[:, 0] == 127).all() and (want[:, 1] == 127).all()    # INT32_MIN - 5 wraps
