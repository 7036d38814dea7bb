"""The exact fast path of the float32 convolutions onnxruntime runs unfused
(:mod:`dure.compiler.onnx_fast`): the NPU's exact sums decide every output the error bound
allows, the rest is recomputed in float32; the program stays bit-exact with onnxruntime on
graphs built so that many outputs sit on or next to rounding ties, and the share of outputs
recomputed is reported (``-s`` prints it)."""

import dataclasses

import numpy as np
import pytest
from dure.compiler import onnx_fast, reference
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.onnx_frontend import parse_onnx
from dure.sim.verif import onnx_models as om
from dure.sim.verif.onnx_ref import run_onnx

from dure.config import preset

pytest.importorskip("onnxruntime")

_TIE = float(np.float32(np.float32(0.1) * np.float32(0.01)) * 2)
# (model arguments, y_scale): exactly on ties (every odd exact sum), or next to them (the
# exact value within ~1e-6 of a tie), per-tensor weights of [-3, 3]
_ADVERSARIAL = [
    (dict(cin=16, cout=8, k=3, size=10, pad=1), _TIE),
    (dict(cin=48, cout=12, k=3, size=9, pad=1, relu=True), _TIE),
    (dict(cin=40, cout=10, k=1, size=9), _TIE),
    (dict(cin=16, cout=8, k=3, size=10, pad=1, stride=2), _TIE * (1 + 2 ** -21)),
    (dict(cin=48, cout=12, k=3, size=9, pad=1), _TIE * (1 - 2 ** -20)),
    (dict(cin=160, cout=6, k=3, size=7, pad=1), _TIE),           # K = 1440: restarted chains
]


def _conv_op(graph):
    return next(op for op in graph.ops if op.name == "conv")


def _tie_model(kw, y_scale, seed):
    rng = np.random.default_rng(seed)
    model = om.onnx_qdq_conv(rng, **kw, per_channel=False, x_scale=0.1, w_scale=0.01,
                             w_max=3, y_scale=y_scale)
    x = (rng.standard_normal((1, kw["cin"], kw["size"], kw["size"])) * 0.5).astype(np.float32)
    return model, x


@pytest.mark.parametrize("case", range(len(_ADVERSARIAL)))
def test_near_ties_bit_exact_with_onnxruntime(case):
    """Outputs on / next to rounding ties: the compiled program (NPU sums on the command
    model, the core half in numpy) equals onnxruntime; on ties the bound leaves a large
    share to the float32 recomputation, and still decides the rest."""
    kw, ys = _ADVERSARIAL[case]
    model, x = _tie_model(kw, ys, case)
    graph = parse_onnx(model)
    prog = compile_graph(graph, preset("sim"))
    assert [la.kind for la in prog.layers if la.op.name == "conv"] == ["npu_op", "conv_fast"]
    want = run_onnx(model, x)[0]
    got, run = run_program(prog, [x])
    assert np.array_equal(got[0], want)
    (stats,) = run.fast.values()
    n = stats["outputs"]
    assert stats["crude"] + stats["exact"] + stats["recomputed"] == n
    print(f"\n{kw} y_scale {ys:.9g}: {stats['recomputed']} of {n} recomputed "
          f"({100 * stats['recomputed'] / n:.1f} %), exact-A tier {stats['exact']}")
    if ys == _TIE:      # odd sums on ties: the bound cannot decide them, a share recomputed
        assert stats["recomputed"] >= 0.1 * n
    assert stats["recomputed"] < n


def test_the_bound_is_needed():
    """With the error bound set to zero the same decisions go wrong on the tie model (the
    test above can fail): the error terms keep the fast path exact."""
    kw, ys = _ADVERSARIAL[0]
    model, x = _tie_model(kw, ys, 0)
    graph = parse_onnx(model)
    op = _conv_op(graph)
    p = onnx_fast.fast_params(graph, op)
    values = reference.run_all(graph, [x])
    xi, want = values[op.inputs[0]], values[op.outputs[0]]
    s = onnx_fast.sums(xi, p)
    y, done = onnx_fast.decide(s, None, p)
    assert done.any() and not (done & (y != want)).any()
    zero = dataclasses.replace(p, table={**p.table, **{c: 0 * p.table[c] for c in
                                                       ("K0", "K1", "K2", "KC")}})
    y, done = onnx_fast.decide(s, None, zero)
    assert (done & (y != want)).sum() > 50


@pytest.mark.parametrize("index", range(4))
def test_random_layers_mostly_decided(index):
    """Random per-channel QDQ convolutions (onnx_qdq_conv's own scales): bit-exact with
    onnxruntime, and only a small share recomputed."""
    rng = np.random.default_rng(index)
    kw = [dict(cin=8, cout=16, k=3, size=8, pad=1), dict(cin=16, cout=16, k=3, size=8, pad=1,
                                                         stride=2, relu=True),
          dict(cin=24, cout=8, k=1, size=6), dict(cin=3, cout=8, k=3, size=9)][index]
    model = om.onnx_qdq_conv(rng, **kw)
    x = rng.standard_normal((1, kw["cin"], kw["size"], kw["size"])).astype(np.float32)
    got, run = run_program(compile_graph(parse_onnx(model), preset("sim")), [x])
    assert np.array_equal(got[0], run_onnx(model, x)[0])
    (stats,) = run.fast.values()
    assert stats["recomputed"] <= 0.05 * stats["outputs"]


def test_slow_path_where_the_fast_one_does_not_apply():
    """Grouped convolutions, and ``float_fast=False``, keep the core's float32 kernel."""
    rng = np.random.default_rng(5)
    model = om.onnx_qdq_conv(rng, cin=16, cout=16, k=3, size=6, pad=1, group=4)
    graph = parse_onnx(model)
    assert onnx_fast.fast_params(graph, _conv_op(graph)) is None
    assert [la.kind for la in compile_graph(graph, preset("sim")).layers
            if la.op.name == "conv"] == ["CONV_2D"]
    graph = parse_onnx(om.onnx_qdq_conv(rng, cin=8, cout=8, k=3, size=6, pad=1))
    assert [la.kind for la in compile_graph(graph, preset("sim"), float_fast=False).layers
            if la.op.name == "conv"] == ["CONV_2D"]
