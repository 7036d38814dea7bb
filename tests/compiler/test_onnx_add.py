"""ONNX INT8 ADD on the NPU's element-wise unit (compiler/onnx_add.py): bit-exact with
onnxruntime on every pair of stored operands, or on the core when no proven parameters exist."""

import numpy as np
import pytest
from dure.compiler.execute import run_program
from dure.compiler.lower import _Blob, compile_graph
from dure.compiler.onnx_add import eltwise_add_params
from dure.compiler.onnx_frontend import parse_onnx
from dure.sim.golden_tflite_params import add_params
from dure.sim.verif import onnx_models as om
from dure.sim.verif.onnx_ref import run_onnx

from dure.config import preset

pytest.importorskip("onnxruntime")

# (scales, int8 zero points): TFLite's own parameters already exact; exact only after the
# search of nearby multipliers; no exact parameters found (the ADD stays on the core).
_CASES = {
    "nominal": ((0.06551136076450348, 0.030629737302660942, 0.008892484940588474),
                (-109, -124, -84)),
    "searched": ((0.09817935526371002, 0.0701264888048172, 0.06679362803697586), (87, 48, 52)),
    "core": ((0.09593496471643448, 0.0191325806081295, 0.09739973396062851), (123, -34, 99)),
}


def _model(case, dtype, form):
    scales, zps = _CASES[case]
    zps = [z + (128 if dtype == np.uint8 else 0) for z in zps]
    return om.onnx_quantized_add(scales, zps, dtype=dtype, form=form), \
        om.every_int8_pair(scales, zps, dtype=dtype)


# onnxruntime fuses DQ -> Add -> Q into QLinearAdd for uint8; an int8 QDQ Add of this graph it
# leaves in float32 (DequantizeLinear, Add, QuantizeLinear), another arithmetic: int8 is
# covered by the QOperator form.
@pytest.mark.parametrize("dtype, form", [(np.int8, "qoperator"), (np.uint8, "qoperator"),
                                         (np.uint8, "qdq")], ids=["int8", "uint8", "uint8-qdq"])
@pytest.mark.parametrize("case", sorted(_CASES))
def test_every_pair_bit_exact_with_onnxruntime(case, dtype, form):
    """All 65,536 operand pairs through the compiled program on the NPU command model equal
    onnxruntime's QLinearAdd; the ADD is on the element-wise unit unless no parameters are
    proven (then the core's table)."""
    model, x = _model(case, dtype, form)
    prog = compile_graph(parse_onnx(model), preset("sim"))
    (add,) = [la for la in prog.layers if la.op.kind.value == "ADD"]
    # ("core" names the int8 case without proven parameters; shifted to uint8 it has some)
    assert add.where == ("core" if case == "core" and dtype == np.int8 else "npu")
    got, _ = run_program(prog, list(x))
    want = run_onnx(model, *x)[0]
    assert got[0].dtype == want.dtype and np.array_equal(got[0], want)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_constant_operand_every_pair(dtype):
    """QLinearAdd of an activation and a quantized initializer (the Dense layer's MatMul +
    Add): the constant in the layer's parameter bytes, every pair against onnxruntime."""
    scales, zps = _CASES["searched"]
    zps = [z + (128 if dtype == np.uint8 else 0) for z in zps]
    x0, x1 = om.every_int8_pair(scales, zps, dtype=dtype)
    lo = -128 if dtype == np.int8 else 0
    const = np.tile(np.arange(lo, lo + 256), 256)
    model = om.onnx_quantized_add(scales, zps, dtype=dtype, form="qoperator", constant=const)
    prog = compile_graph(parse_onnx(model), preset("sim"))
    (add,) = [la for la in prog.layers if la.op.kind.value == "ADD"]
    assert add.where == "npu" and add.reads == [prog.layers[0].writes[0]]
    got, _ = run_program(prog, [x0])
    assert np.array_equal(got[0], run_onnx(model, x0)[0])


def test_search_moves_the_multipliers_only_when_needed():
    """TFLite's parameters are kept when exact, replaced by searched ones when not, and no
    parameters at all are returned when none is found."""
    found = {}
    for case in _CASES:
        graph = parse_onnx(_model(case, np.int8, "qoperator")[0])
        (op,) = [o for o in graph.ops if o.kind.value == "ADD"]
        found[case] = eltwise_add_params(graph, op, -128, 127)
    assert found["nominal"] == add_params(*_CASES["nominal"][0])
    searched = add_params(*_CASES["searched"][0])
    assert found["searched"] is not None and found["searched"] != searched
    assert found["searched"].output_shift == searched.output_shift
    assert found["core"] is None


def test_identical_add_tables_are_stored_once():
    blob = _Blob()
    t = np.arange(65536, dtype=np.int64).astype(np.int8)
    blob.add_shared("a", t)
    blob.add("w", np.ones(16, np.int8))
    blob.add_shared("b", t.copy())
    blob.add_shared("c", t[::-1])
    assert blob.addr["a"] == blob.addr["b"] != blob.addr["c"]
    assert blob.size == 2 * 65536 + 16
