"""The ``npu_layer`` firmware (firmware/npu_apps/npu_layer) on the simulated 4x4 SoC: the core
builds each layer's descriptor list with the C operators (npu_ops.h), runs it as LISTs, and the
outputs equal the golden TFLite operators bit for bit: a convolution (INT8, with clamp; FP16
with scale and clamp, stride 2, VALID) and a depthwise convolution (INT8; FP16 with bias)."""

import numpy as np
import pytest
from dure.sim import golden_tflite, golden_tflite_fp16
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
]


def _golden(op, precision):
    gold = golden_tflite if precision == "int8" else golden_tflite_fp16
    return getattr(gold, f"{'depthwise_conv2d' if op == 'depthwise' else 'conv2d'}_{precision}")


@pytest.mark.slow    # ~2 CPU-minutes per seed; make test keeps the list-equality host test
@pytest.mark.parametrize("seed", [3])
def test_conv_and_depthwise_built_on_the_core_are_exact(seed):
    table = LayerTable(CONFIG, max_layers=len(LAYERS), list_cap=4096, param_cap=1 << 16)
    wants = []
    for i, (op, precision, x_shape, cout, kernel, stride, padding, extra) in \
            enumerate(LAYERS):
        spec = layer_operands(op, x_shape, cout, kernel, precision, seed + i)
        if precision == "fp16" and op == "conv":
            spec["scale"] = np.random.default_rng(seed).uniform(0.5, 2, cout).astype(np.float32)
        x, w, bias = spec.pop("x"), spec.pop("w"), spec.pop("bias")
        wants.append(_golden(op, precision)(x, w, bias, stride=stride, padding=padding,
                                            **spec, **extra))
        table.add(op, precision, x, w, bias, stride=stride, padding=padding, **spec, **extra)
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
