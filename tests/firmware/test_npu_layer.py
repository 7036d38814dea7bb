"""The ``npu_layer`` firmware (firmware/npu_apps/npu_layer) on the simulated 4x4 SoC: the core
builds each layer's descriptor list with the C operators (npu_ops.h), runs it as LISTs, and the
outputs equal the golden TFLite operators bit for bit: a convolution (INT8, with clamp; FP16
with scale and clamp, stride 2, VALID; INT8 and FP16 with one input channel, taps packed), a
depthwise convolution (INT8 on the element-wise unit's pair MACs, two taps per ELTWISE, on a
small and a larger image; FP16 with bias) and average pooling (INT8 and FP16 global pooling, a
padded 3x3 stride-2 window)."""

import numpy as np
import pytest
from dure.sim import conv_plan, golden_tflite, golden_tflite_fp16, pool_plan
from dure.sim.npu_bench import layer_operands
from dure.sim.npu_layer_job import LayerTable

from dure.config import preset

CONFIG = preset("npu-small")

#: (op, precision, input NHWC, cout, kernel, stride, padding, extra golden/planner arguments)
LAYERS = [
    ("conv", "int8", (1, 7, 6, 5), 6, (3, 3), 1, "SAME", dict(lo=-20, hi=100)),
    ("conv", "fp16", (2, 6, 7, 3), 5, (3, 2), 2, "VALID", dict(lo=-1.0, hi=2.0)),
    ("depthwise", "int8", (1, 6, 5, 6), 6, (3, 3), 1, "SAME", {}),
    ("depthwise", "fp16", (1, 5, 6, 5), 5, (2, 3), 2, "SAME", {}),
    ("conv", "int8", (1, 11, 6, 1), 6, (5, 2), 2, "SAME", {}),         # packed taps
    ("conv", "fp16", (1, 11, 6, 1), 6, (5, 2), 2, "SAME", {}),         # packed taps, FP16
    ("depthwise", "int8", (1, 9, 8, 6), 6, (3, 3), 1, "SAME", {}),     # pair MACs, larger map
    ("avgpool", "int8", (2, 5, 4, 6), 6, (5, 4), 1, "VALID", {}),      # element-wise reduce
    ("avgpool", "fp16", (2, 5, 4, 9), 9, (5, 4), 1, "VALID", {}),      # on the array
    ("avgpool", "int8", (1, 7, 6, 5), 5, (3, 3), 2, "SAME", {}),
]


def _golden(op, precision):
    gold = golden_tflite if precision == "int8" else golden_tflite_fp16
    name = {"conv": "conv2d", "depthwise": "depthwise_conv2d", "avgpool": "average_pool"}[op]
    return getattr(gold, f"{name}_{precision}")


def _stream(op, precision, x_shape, cout, kernel, stride, padding, spec):
    """The Python planner's notes of a layer (which stream the C port must have taken)."""
    if op == "avgpool":
        fn = getattr(pool_plan, f"average_pool_{precision}_program")
        return fn(CONFIG, x_shape, kernel, stride=stride, padding=padding, x_addr=0,
                  out_addr=0, param_addr=0).notes
    base = "depthwise_conv2d" if op == "depthwise" else "conv2d"
    fn = getattr(conv_plan, f"{base}_{precision}_program")
    return fn(CONFIG, x_shape, spec["w"], spec["bias"], stride=stride, padding=padding,
              x_addr=0, out_addr=0, param_addr=0,
              **{k: v for k, v in spec.items() if k not in ("x", "w", "bias")}).notes


@pytest.mark.slow    # ~2 CPU-minutes per seed; make test keeps the list-equality host test
@pytest.mark.parametrize("seed", [3])
def test_conv_and_depthwise_built_on_the_core_are_exact(seed):
    table = LayerTable(CONFIG, max_layers=len(LAYERS), list_cap=4096, param_cap=1 << 16)
    wants = []
    notes = []
    for i, (op, precision, x_shape, cout, kernel, stride, padding, extra) in \
            enumerate(LAYERS):
        spec = layer_operands(op, x_shape, cout, kernel, precision, seed + i)
        if precision == "fp16" and op == "conv":
            spec["scale"] = np.random.default_rng(seed).uniform(0.5, 2, cout).astype(np.float32)
        if op != "avgpool":
            notes += _stream(op, precision, x_shape, cout, kernel, stride, padding, spec)
        else:
            notes += _stream(op, precision, x_shape, cout, kernel, stride, padding, {})
            x = spec.pop("x")
            wants.append(_golden(op, precision)(x, kernel, stride=stride, padding=padding))
            table.add(op, precision, x, kernel=kernel, stride=stride, padding=padding)
            continue
        x, w, bias = spec.pop("x"), spec.pop("w"), spec.pop("bias")
        wants.append(_golden(op, precision)(x, w, bias, stride=stride, padding=padding,
                                            **spec, **extra))
        table.add(op, precision, x, w, bias, stride=stride, padding=padding, **spec, **extra)
    # every stream of the C port is among them: packed taps, depthwise on the MAC, global
    # pooling on the MAC (reduce) and on the array, the pooling walk
    for ending in ("to a COMPUTE", "ELTWISE MAC", "MAC (reduce)", "pixels", "]"):
        assert sum(note.endswith(ending) for note in notes) >= \
            1 + (ending in ("pixels", "to a COMPUTE")), ending
    outputs, results = table.run(max_cycles=20_000_000)
    for (op, precision, *_), got, want, stats in zip(LAYERS, outputs, wants, results,
                                                     strict=True):
        assert stats["status"] == 1 and stats["error"] == 0, (op, precision, stats)
        assert stats["count"] > 0 and 0 < stats["build_cycles"] <= stats["cycles"]
        width = f"u{got.dtype.itemsize}"
        assert got.shape == want.shape
        bad = np.argwhere(got.view(width) != want.view(width))
        assert not len(bad), f"{op} {precision}: {len(bad)} outputs differ, first {bad[0]}"
        print(f"{op} {precision}: {stats['count']} descriptors, {stats['cycles']} cycles "
              f"({stats['build_cycles']} building the list; parameters {stats['param_cycles']})")
