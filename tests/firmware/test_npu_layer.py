"""The ``npu_layer`` firmware (firmware/npu_apps/npu_layer) on the simulated 4x4 SoC: the core
builds each layer's descriptor list with the C operators (npu_ops.h), runs it as LISTs, and the
outputs equal the golden TFLite operators bit for bit: a convolution (INT8, with clamp; FP16
with scale and clamp, stride 2, VALID; INT8 and FP16 with one input channel, taps packed), a
depthwise convolution (INT8 on the element-wise unit's pair MACs, two taps per ELTWISE, on a
small and a larger image; FP16 with bias) and average pooling (INT8 and FP16 global pooling, a
padded 3x3 stride-2 window); and (a second run) max pooling, INT8 ADD and the float-scale
convolutions, on the 4x4 SoC in make test and on the 8x8 `sim` SoC under make fuzz."""

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
    ("depthwise", "fp16", (1, 5, 6, 5), 5, (2, 3), 2, "SAME", {}),     # FP16 pair MACs
    ("conv", "int8", (1, 11, 6, 1), 6, (5, 2), 2, "SAME", {}),         # packed taps
    ("conv", "fp16", (1, 11, 6, 1), 6, (5, 2), 2, "SAME", {}),         # packed taps, FP16
    ("depthwise", "int8", (1, 9, 8, 6), 6, (3, 3), 1, "SAME", {}),     # pair MACs, larger map
    ("avgpool", "int8", (2, 5, 4, 6), 6, (5, 4), 1, "VALID", {}),      # element-wise reduce
    ("avgpool", "fp16", (2, 5, 4, 9), 9, (5, 4), 1, "VALID", {}),      # on the array
    ("avgpool", "int8", (1, 7, 6, 5), 5, (3, 3), 2, "SAME", {}),
    # two input chunks: the first unit's weights of taps 0 and 1 of input chunk 0 in one LOAD
    # of their copy in the parameter area (WalkLayer.pair_weights)
    ("conv", "int8", (1, 6, 5, 12), 10, (3, 3), 1, "SAME", {}),
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


def _float_scale_reference(x, w, bias, zi, scale, zo, stride, padding, depthwise):
    """ONNX QLinearConv's integer path written out: int64 sums of w * (x - zi) over the taps
    (padding positions hold zi, so they add nothing), plus the bias, wrapped to int32, then
    :func:`dure.sim.golden.requantize` (the float-scale STORE's definition)."""
    from dure.sim import golden
    from dure.sim.golden_fixedpoint import wrap_int32
    from dure.sim.golden_padding import conv_padding

    n, h, wd, cin = x.shape
    kh, kw = w.shape[1], w.shape[2]
    oh, pt, _ = conv_padding(h, kh, stride, padding)
    ow, pl, _ = conv_padding(wd, kw, stride, padding)
    cout = cin if depthwise else w.shape[0]
    centred = x.astype(np.int64) - zi
    acc = np.zeros((n, oh, ow, cout), np.int64) + bias.astype(np.int64)
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(kh):
                for kx in range(kw):
                    iy, ix = oy * stride - pt + ky, ox * stride - pl + kx
                    if not (0 <= iy < h and 0 <= ix < wd):
                        continue
                    v = centred[:, iy, ix, :]
                    if depthwise:
                        acc[:, oy, ox, :] += v * w[0, ky, kx].astype(np.int64)
                    else:
                        acc[:, oy, ox, :] += v @ w[:, ky, kx, :].astype(np.int64).T
    acc = wrap_int32(acc).astype(np.int32)
    return golden.requantize(acc.reshape(-1, cout), scale, zo).reshape(acc.shape)


# make test runs the 4x4 SoC (its model is built for many tests anyway); the 8x8 `sim` SoC's
# model is one more ~5-minute build, so its case runs under make fuzz.
@pytest.mark.parametrize("config", [CONFIG, pytest.param(preset("sim"), marks=pytest.mark.slow)],
                         ids=["npu-small", "sim"])
def test_max_pool_int8_add_and_float_scale_built_on_the_core_are_exact(config):
    """The C ports of MAX_POOL_2D (INT8 with a clamp, FP16; ELTWISE MAX walk), INT8 ADD
    (ELTWISE ADD with TFLite's rescaling) and the float-scale (ONNX) INT8 convolutions (walked,
    tap-packed, depthwise on pair MACs) build their lists on the core of the 4x4 `npu-small`
    SoC (and of the 8x8 `sim` SoC under make fuzz); every output equals its golden operator
    bit for bit."""
    from dure.sim.golden_tflite_params import add_params

    rng = np.random.default_rng(31)
    table = LayerTable(config, max_layers=7, list_cap=4096, param_cap=1 << 16)
    wants = []
    # MAX_POOL_2D: INT8 3x3 stride 2 SAME with a clamp, FP16 2x3 stride 1 VALID with ReLU
    x = rng.integers(-128, 128, (2, 7, 6, 5), dtype=np.int8)
    wants.append(golden_tflite.max_pool_int8(x, (3, 3), stride=2, padding="SAME", lo=-50,
                                             hi=90))
    table.add("maxpool", "int8", x, kernel=(3, 3), stride=2, padding="SAME", lo=-50, hi=90)
    x = rng.standard_normal((1, 5, 7, 6)).astype(np.float16)
    wants.append(golden_tflite_fp16.max_pool_fp16(x, (2, 3), stride=1, padding="VALID",
                                                  lo=0.0))
    table.add("maxpool", "fp16", x, kernel=(2, 3), stride=1, padding="VALID", lo=0.0)
    # INT8 ADD: 1 x 5 x 7 x 6 (210 elements: 26 rows of 8 and a partial last row)
    a = rng.integers(-128, 128, (1, 5, 7, 6), dtype=np.int8)
    b = rng.integers(-128, 128, (1, 5, 7, 6), dtype=np.int8)
    prm = add_params(0.04, 0.07, 0.09)
    wants.append(golden_tflite.add_int8(a, b, prm, input1_zero_point=-5, input2_zero_point=9,
                                        output_zero_point=3, lo=-100, hi=120))
    table.add("add", "int8", a, b, input_zero_point=-5, input2_zero_point=9,
              output_zero_point=3, lo=-100, hi=120, add_params=prm)
    # float-scale convolutions: walked 3x3, packed (Cin = 1), depthwise 3x3
    for depthwise, x_shape, cout, kernel, stride in (
            (False, (1, 6, 5, 11), 10, (3, 3), 1), (False, (1, 9, 6, 1), 10, (4, 2), 2),
            (True, (1, 7, 6, 12), 12, (3, 3), 1)):
        x = rng.integers(-128, 128, x_shape, dtype=np.int8)
        wshape = (1, *kernel, cout) if depthwise else (cout, *kernel, x_shape[3])
        w = rng.integers(-128, 128, wshape, dtype=np.int8)
        bias = rng.integers(-3000, 3000, cout, dtype=np.int32)
        scale = rng.uniform(2e-4, 2e-3, cout).astype(np.float32)
        wants.append(_float_scale_reference(x, w, bias, 4, scale, -7, stride, "SAME",
                                            depthwise))
        table.add("depthwise" if depthwise else "conv", "int8", x, w, bias, stride=stride,
                  padding="SAME", input_zero_point=4, output_zero_point=-7, scale=scale)
    outputs, results = table.run(max_cycles=20_000_000)
    names = ["maxpool int8", "maxpool fp16", "add int8", "float-scale conv",
             "float-scale packed conv", "float-scale depthwise"]
    for name, got, want, stats in zip(names, outputs, wants, results, strict=True):
        assert stats["status"] == 1 and stats["error"] == 0, (name, stats)
        assert stats["count"] > 0
        width = f"u{got.dtype.itemsize}"
        assert got.shape == want.shape, name
        bad = np.argwhere(got.view(width) != np.asarray(want).view(width))
        assert not len(bad), f"{name}: {len(bad)} outputs differ, first {bad[0]}"
        assert len(np.unique(got)) > 3, name             # not a constant output
