"""A small CNN on scikit-learn's 8x8 digits: training, INT8 quantization, FP16 conversion, and
inference as one NPU job (``make sim``'s second demo, after :mod:`dure.sim.mlp_digits`, whose
data split and quantization helpers it reuses).

The network: the 8x8 image as NHWC ``(8, 8, 1)``; a 3x3 convolution, stride 2, one pixel of
zero padding on every side, ``C`` output channels and ReLU, giving ``(4, 4, C)``; then a fully
connected layer ``16C -> 10``. The NHWC output of the convolution, rows ``(image, y, x)`` and
channels as columns, is exactly the FC layer's ``batch x 16C`` input, so nothing runs on the
core between the layers.

The convolution runs on the NPU as an implicit GEMM, with no im2col anywhere on the SoC: the
walk planner (:mod:`dure.sim.conv_plan`: ``conv2d_int8_float_scale_program`` /
``conv2d_fp16_program``; one input channel, so the kernel taps are packed into the array's K
lanes, :mod:`dure.sim.conv_pack`) turns the NHWC images in main memory into the NHWC features,
and the NPU fetches its descriptors as one LIST; the FC layer is a GEMM layer of the same job.
The packed plan takes the batch in groups of 10 images per tile (one gather, round trip and
FENCE per group; two tile regions alternate, so the next group's images load while this one's
gather runs): ~282 (INT8) / ~496 (FP16) cycles per image on the SoC (~423 / ~770 with a FENCE
per image), bound by the 4 B/cycle port and the gather's array rows, not MACs.

Pipeline (deterministic, fixed seeds):

1. :func:`dure.sim.mlp_digits.load_split`: the same 1437 / 360 split as the MLP.
2. :func:`train`: full-batch Adam on softmax cross-entropy in numpy (the convolution as a GEMM
   of :func:`dure.sim.npu_job.im2col` in training only).
3. :func:`quantize_int8`: input scale 1/127 (pixels / 16 in [0, 1]), per-output-channel
   symmetric int8 weights (the HWIO kernel as a ``(kh*kw*cin, C)`` matrix), int32 biases in the
   accumulator's scale, the activation scale from calibration on the training set (its maximum
   / 127), float32 requantization scales ``s_in * s_w[j] / s_out``. Convolution: INT8 +
   float-scale requantization with ReLU as the clamp (``lo = zero point = 0``), padding value
   the input zero point (0). FC: INT8 GEMM dequantized to fp16 logits
   (``scale = s_h * s_w2[j]``).
4. :func:`convert_fp16`: fp16 weights and inputs, fp32 biases; the convolution FP16 with ReLU
   (clamp at 0) to fp16, the FC layer FP16 to fp32 logits.

:func:`golden_run` evaluates both layers with :func:`dure.sim.npu_job.reference_conv2d` (the
im2col GEMM per :mod:`dure.sim.golden`, independent of the walk planner) and
:func:`dure.sim.npu_job.reference`; :func:`npu_run` runs them as one job on the simulated SoC
through the ``npu_job`` firmware.
"""

from dataclasses import dataclass

import numpy as np

from .mlp_digits import (
    INPUT_SCALE,
    SEED,
    load_split,
    quantize_input,
    quantize_per_channel,
    scaled_pixels,
)
from .npu_job import Job, conv_out_size, im2col, reference, reference_conv2d

__all__ = ["CNN", "train", "float_predict", "quantize_int8", "convert_fp16", "layer_specs",
           "conv_program", "golden_run", "npu_run", "model_input", "gemm_shapes", "load_split",
           "SEED", "INPUT_SHAPE", "KERNEL", "STRIDE", "PAD"]

#: NHWC shape of one image.
INPUT_SHAPE = (8, 8, 1)
#: Kernel (kh, kw), stride and padding of the convolution.
KERNEL = (3, 3)
STRIDE = 2
PAD = 1
_OUT = (conv_out_size(INPUT_SHAPE[0], KERNEL[0], STRIDE, PAD),
        conv_out_size(INPUT_SHAPE[1], KERNEL[1], STRIDE, PAD))


@dataclass
class CNN:
    """Float weights: ``wc`` HWIO ``(kh, kw, cin, C)``, ``bc`` (C,), ``wf`` (positions*C, 10)
    with rows in NHWC (y, x, c) order, ``bf`` (10,); float32."""

    wc: np.ndarray
    bc: np.ndarray
    wf: np.ndarray
    bf: np.ndarray

    @property
    def channels(self):
        return self.wc.shape[3]


def _images(x):
    return x.reshape(len(x), *INPUT_SHAPE)


def _conv_matrix(wc):
    return wc.reshape(-1, wc.shape[3])


def _features(cnn, xf):
    """Float conv + ReLU of images ``xf`` (N, 8, 8, 1) as ``(N, positions*C)``."""
    cols = im2col(xf, *KERNEL, STRIDE, PAD)
    h = np.maximum(cols @ _conv_matrix(cnn.wc) + cnn.bc, 0)
    return h.reshape(len(xf), -1)


def float_predict(cnn, pixels):
    """Class predictions of the float model."""
    h = _features(cnn, _images(scaled_pixels(pixels)))
    return np.argmax(h @ cnn.wf + cnn.bf, axis=1)


def train(x, y, channels=16, epochs=300, lr=0.01, seed=SEED):
    """Train the CNN with full-batch Adam on softmax cross-entropy; return a :class:`CNN`."""
    rng = np.random.default_rng(seed)
    cols = im2col(_images(scaled_pixels(x)).astype(np.float64), *KERNEL, STRIDE, PAD)
    positions, k = _OUT[0] * _OUT[1], cols.shape[1]
    onehot = np.eye(10)[y]
    params = [rng.normal(0, np.sqrt(2 / k), (k, channels)), np.zeros(channels),
              rng.normal(0, np.sqrt(2 / (positions * channels)), (positions * channels, 10)),
              np.zeros(10)]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    for step in range(1, epochs + 1):
        wc, bc, wf, bf = params
        pre = cols @ wc + bc                                  # (N*positions, C)
        h = np.maximum(pre, 0).reshape(len(x), -1)            # (N, positions*C)
        logits = h @ wf + bf
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        d_logits = (p - onehot) / len(x)
        d_pre = (d_logits @ wf.T).reshape(pre.shape) * (pre > 0)
        grads = [cols.T @ d_pre + 1e-4 * wc, d_pre.sum(0), h.T @ d_logits + 1e-4 * wf,
                 d_logits.sum(0)]
        for param, grad, mom in zip(params, grads, moments, strict=True):
            mom[0] = 0.9 * mom[0] + 0.1 * grad
            mom[1] = 0.999 * mom[1] + 0.001 * grad * grad
            m_hat = mom[0] / (1 - 0.9 ** step)
            v_hat = mom[1] / (1 - 0.999 ** step)
            param -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    wc, bc, wf, bf = (p.astype(np.float32) for p in params)
    return CNN(wc.reshape(*KERNEL, INPUT_SHAPE[2], channels), bc, wf, bf)


def quantize_int8(cnn, calibration_pixels):
    """INT8 parameters: dict of weights (``wc`` HWIO int8), int32 biases and float32
    requantization scales."""
    wcq, s_wc = quantize_per_channel(_conv_matrix(cnn.wc).astype(np.float64))
    wfq, s_wf = quantize_per_channel(cnn.wf.astype(np.float64))
    s_x = float(INPUT_SCALE)
    hidden = _features(cnn, _images(scaled_pixels(calibration_pixels)))
    s_h = max(float(hidden.max()), 1e-6) / 127.0
    return {
        "wc": wcq.reshape(cnn.wc.shape), "bc": np.rint(cnn.bc / (s_x * s_wc)).astype(np.int32),
        "mc": (s_x * s_wc / s_h).astype(np.float32),
        "wf": wfq, "bf": np.rint(cnn.bf / (s_h * s_wf)).astype(np.int32),
        "mf": (s_h * s_wf).astype(np.float32),
        "s_h": s_h,
    }


def convert_fp16(cnn):
    """FP16 parameters: fp16 weights, fp32 biases."""
    return {"wc": cnn.wc.astype(np.float16), "bc": cnn.bc.astype(np.float32),
            "wf": cnn.wf.astype(np.float16), "bf": cnn.bf.astype(np.float32)}


def layer_specs(precision, params):
    """``(conv, fc)``: keyword arguments of :func:`dure.sim.npu_job.reference_conv2d` (without
    the precision's input and weights: ``weights`` HWIO) and of ``Job.gemm`` (without A, the
    convolution's output seen as ``batch x positions*C``)."""
    geometry = dict(stride=STRIDE, pad=PAD, pad_value=0)
    if precision == "int8":
        return (dict(weights=params["wc"], precision="int8", bias=params["bc"],
                     scale=params["mc"], zero_point=0, lo=0, hi=127, **geometry),
                dict(b=params["wf"], precision="int8", bias=params["bf"], scale=params["mf"],
                     out_dtype="fp16"))
    return (dict(weights=params["wc"], precision="fp16", bias=params["bc"], lo=0.0, **geometry),
            dict(b=params["wf"], precision="fp16", bias=params["bf"], out_dtype="fp32"))


def conv_program(config, precision, params, x_shape, *, x_addr, out_addr, param_addr):
    """The convolution layer lowered onto the NPU (:mod:`dure.sim.conv_plan`) for NHWC input
    ``x_shape`` at ``x_addr``: a :class:`~dure.sim.layer_program.LayerProgram` computing
    :func:`golden_run`'s features at ``out_addr``."""
    from . import conv_plan

    w = np.ascontiguousarray(np.transpose(params["wc"], (3, 0, 1, 2)))   # HWIO -> OHWI
    where = dict(stride=STRIDE, padding=(PAD,) * 4, x_addr=x_addr, out_addr=out_addr,
                 param_addr=param_addr)
    if precision == "int8":
        return conv_plan.conv2d_int8_float_scale_program(
            config, x_shape, w, params["bc"], input_zero_point=0, output_zero_point=0,
            scale=params["mc"], lo=0, hi=127, **where)
    return conv_plan.conv2d_fp16_program(config, x_shape, w, params["bc"], lo=0.0, **where)


def model_input(precision, pixels):
    """The convolution's NHWC input ``(N, 8, 8, 1)`` for ``precision``."""
    if precision == "int8":
        return _images(quantize_input(pixels))
    return _images(scaled_pixels(pixels).astype(np.float16))


def gemm_shapes(params, images):
    """``[(name, M, K, N)]`` of the layers as GEMMs for ``images`` images (the demo's report):
    the convolution is the GEMM of its im2col matrix (one row per output pixel)."""
    kh, kw, cin, channels = params["wc"].shape
    positions = _OUT[0] * _OUT[1]
    return [("conv", images * positions, kh * kw * cin, channels),
            ("fc", images, positions * channels, 10)]


def golden_run(precision, params, pixels):
    """Outputs of both layers per :mod:`dure.sim.golden`: ``[features (N, 3, 1, C), logits]``."""
    conv, fc = layer_specs(precision, params)
    conv, fc = dict(conv), dict(fc)
    x = model_input(precision, pixels)
    features = reference_conv2d(conv.pop("precision"), x, conv.pop("weights"), **conv)
    logits = reference(fc.pop("precision"), features.reshape(len(x), -1), fc.pop("b"), **fc)
    return [features, logits]


def npu_run(precision, params, pixels, config=None, cpu_check=False):
    """Run both layers as one NPU job; return ``(outputs, JobResult)``. ``cpu_check``: the FC
    layer also runs on the firmware's CPU reference path (the walked convolution has none:
    its table entry reports ``check`` 0)."""
    _, fc = layer_specs(precision, params)
    job = Job(config)
    x = model_input(precision, pixels)

    def build(addrs, out_addr, param_addr):
        return conv_program(job.config, precision, params, x.shape, x_addr=addrs[0],
                            out_addr=out_addr, param_addr=param_addr)

    # As a LIST: the NPU fetches the descriptors itself (about a thousand for the batch: the
    # packed plan's convolution per image, a gather and round trip per group), which the core
    # would push word by word.
    features, _ = job.layer_program(build, [x], as_list=True)
    logits = job.gemm(features.reshape(len(x), -1), cpu_check=cpu_check, **fc)
    result = job.run()
    return [result.read(features), result.read(logits)], result
