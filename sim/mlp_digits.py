"""A small MLP on scikit-learn's 8x8 digits: training, INT8 quantization, FP16 conversion, and
inference as NPU jobs (``make sim``'s demo).

Everything is deterministic (fixed seeds). The pipeline:

1. :func:`load_split`: the 1797 digits (pixels 0..16), shuffled with a fixed seed, 360 held out.
2. :func:`train`: a ``64-H-10`` MLP (ReLU, softmax cross-entropy), full-batch Adam in numpy.
3. :func:`quantize_int8`: input scale 1/127 (pixels / 16 in [0, 1]), per-output-channel
   symmetric int8 weights, int32 biases in the accumulator's scale, the hidden activation scale
   from calibration on the training set (its maximum / 127), and float32 requantization scales
   ``s_in * s_w[j] / s_out``. Layer 1: INT8 GEMM + requantization with ReLU as the clamp
   (``lo = zero point = 0``). Layer 2: INT8 GEMM dequantized to fp16 logits
   (``scale = s_h * s_w2[j]``).
4. :func:`convert_fp16`: fp16 weights and inputs, fp32 biases; layer 1 FP16 GEMM with ReLU
   (clamp at 0) to fp16, layer 2 FP16 GEMM to fp32 logits.

:func:`layer_specs` gives each precision's layers as ``Job.gemm`` arguments; :func:`golden_run`
evaluates them with :func:`dure.sim.npu_job.reference` (dure.sim.golden), :func:`npu_run` on the
simulated SoC through the ``npu_job`` firmware (images as the M dimension).
"""

from dataclasses import dataclass

import numpy as np

from .npu_job import Job, reference

__all__ = ["load_split", "train", "MLP", "quantize_int8", "convert_fp16", "layer_specs",
           "golden_run", "npu_run", "float_predict", "quantize_input", "scaled_pixels",
           "quantize_per_channel", "gemm_shapes"]

SEED = 2024
INPUT_SCALE = np.float32(1.0 / 127.0)


def load_split(test_size=360, seed=SEED):
    """``(x_train, y_train, x_test, y_test)``: pixels as uint8 0..16 (N, 64), labels int."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.uint8)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return x[test_size:], y[test_size:], x[:test_size], y[:test_size]


@dataclass
class MLP:
    """Float weights: ``w1`` (64, H), ``b1`` (H,), ``w2`` (H, 10), ``b2`` (10,), float32."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray


def scaled_pixels(pixels):
    """Pixels 0..16 as float32 in [0, 1] (``pixels / 16``): the float models' input."""
    return pixels.astype(np.float32) / np.float32(16.0)


def float_predict(mlp, pixels):
    """Class predictions of the float model."""
    h = np.maximum(scaled_pixels(pixels) @ mlp.w1 + mlp.b1, 0)
    return np.argmax(h @ mlp.w2 + mlp.b2, axis=1)


def train(x, y, hidden=32, epochs=300, lr=0.01, seed=SEED):
    """Train the MLP with full-batch Adam on softmax cross-entropy; return an :class:`MLP`."""
    rng = np.random.default_rng(seed)
    xf = scaled_pixels(x).astype(np.float64)
    onehot = np.eye(10)[y]
    params = [rng.normal(0, np.sqrt(2 / 64), (64, hidden)), np.zeros(hidden),
              rng.normal(0, np.sqrt(2 / hidden), (hidden, 10)), np.zeros(10)]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    for step in range(1, epochs + 1):
        w1, b1, w2, b2 = params
        pre = xf @ w1 + b1
        h = np.maximum(pre, 0)
        logits = h @ w2 + b2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        d_logits = (p - onehot) / len(x)
        d_h = d_logits @ w2.T * (pre > 0)
        grads = [xf.T @ d_h + 1e-4 * w1, d_h.sum(0), h.T @ d_logits + 1e-4 * w2,
                 d_logits.sum(0)]
        for param, grad, mom in zip(params, grads, moments, strict=True):
            mom[0] = 0.9 * mom[0] + 0.1 * grad
            mom[1] = 0.999 * mom[1] + 0.001 * grad * grad
            m_hat = mom[0] / (1 - 0.9 ** step)
            v_hat = mom[1] / (1 - 0.999 ** step)
            param -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return MLP(*(p.astype(np.float32) for p in params))


def quantize_input(pixels):
    """Pixels 0..16 -> int8 with scale 1/127: ``round(p / 16 * 127)`` in [0, 127]."""
    return np.rint(pixels.astype(np.float64) * 127.0 / 16.0).astype(np.int8)


def quantize_per_channel(w):
    """Per-output-channel (column) symmetric int8 weights: ``(q, scale)`` with ``w ~ q * scale``,
    ``scale[j] = max|w[:, j]| / 127`` (float64; 1 for an all-zero column)."""
    scale = np.abs(w).max(axis=0).astype(np.float64) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_int8(mlp, calibration_pixels):
    """INT8 parameters: dict of weights, int32 biases and float32 requantization scales."""
    w1q, s_w1 = quantize_per_channel(mlp.w1.astype(np.float64))
    w2q, s_w2 = quantize_per_channel(mlp.w2.astype(np.float64))
    s_x = float(INPUT_SCALE)
    hidden = np.maximum(scaled_pixels(calibration_pixels) @ mlp.w1 + mlp.b1, 0)
    s_h = max(float(hidden.max()), 1e-6) / 127.0
    b1q = np.rint(mlp.b1 / (s_x * s_w1)).astype(np.int32)
    b2q = np.rint(mlp.b2 / (s_h * s_w2)).astype(np.int32)
    return {
        "w1": w1q, "b1": b1q, "m1": (s_x * s_w1 / s_h).astype(np.float32),
        "w2": w2q, "b2": b2q, "m2": (s_h * s_w2).astype(np.float32),
        "s_h": s_h,
    }


def convert_fp16(mlp):
    """FP16 parameters: fp16 weights, fp32 biases."""
    return {"w1": mlp.w1.astype(np.float16), "b1": mlp.b1.astype(np.float32),
            "w2": mlp.w2.astype(np.float16), "b2": mlp.b2.astype(np.float32)}


def layer_specs(precision, params):
    """The two layers as ``Job.gemm`` keyword arguments (without the A operand of layer 1 and
    with A of layer 2 left to the caller: the first layer's output)."""
    if precision == "int8":
        return [
            dict(b=params["w1"], precision="int8", bias=params["b1"], scale=params["m1"],
                 zero_point=0, lo=0, hi=127, out_dtype="int8"),
            dict(b=params["w2"], precision="int8", bias=params["b2"], scale=params["m2"],
                 out_dtype="fp16"),
        ]
    return [
        dict(b=params["w1"], precision="fp16", bias=params["b1"], lo=0.0, out_dtype="fp16"),
        dict(b=params["w2"], precision="fp16", bias=params["b2"], out_dtype="fp32"),
    ]


def gemm_shapes(params, images):
    """``[(name, M, K, N)]`` of the layers for ``images`` images (the demo's report)."""
    hidden = params["w1"].shape[1]
    return [("fc1", images, 64, hidden), ("fc2", images, hidden, 10)]


def model_input(precision, pixels):
    """The first layer's A operand for ``precision``."""
    if precision == "int8":
        return quantize_input(pixels)
    return scaled_pixels(pixels).astype(np.float16)


def golden_run(precision, params, pixels):
    """Outputs of both layers per :mod:`dure.sim.golden`: ``[hidden, logits]``."""
    outputs, a = [], model_input(precision, pixels)
    for spec in layer_specs(precision, params):
        spec = dict(spec)
        b = spec.pop("b")
        zp = spec.pop("zero_point", 0)
        precision_ = spec.pop("precision")
        a = reference(precision_, a, b, zero_point=zp, **spec)
        outputs.append(a)
    return outputs


def npu_run(precision, params, pixels, config=None, cpu_check=False):
    """Run both layers as one NPU job; return ``(outputs, JobResult)``."""
    job = Job(config)
    a = model_input(precision, pixels)
    buffers = []
    for spec in layer_specs(precision, params):
        a = job.gemm(a, cpu_check=cpu_check, **spec)
        buffers.append(a)
    result = job.run()
    return [result.read(b) for b in buffers], result
