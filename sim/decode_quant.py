"""The decode demo's weight formats: quantization of the trained float matrices, 2:4 pruning,
the host arithmetic of each format and the check that a variant can run it.

Formats (:data:`FORMATS`), each matrix ``w`` (K x N) of the model (per layer QKV, O, W1, W2;
the LM head):

- ``int8`` (W8A8): per output channel ``s = max|w| / 127``, ``q = clip(rne(w / s), -127,
  127)``; activations int8 per vector (``s_x = max|x| / 127``, RNE); the NPU's INT8 GEMV into
  int32, dequantized on the host as ``y = acc * s_x * s_w[j]``.
- ``int4`` (W4A8): per output channel int4 with the clipping of least squared error
  (:func:`_int4_clipped`); activations and dequantization as int8.
- ``w4a16``: int4 per group of :data:`W4A16_GROUP` k of a column with an fp16 scale (same
  clipping); fp16 activations (RNE); the NPU's W4A16 GEMV (FP16 contract, fp32 out).
- ``fp16``: the weights as float16 (the shipped weights are float16, so exactly them) and fp16
  activations (RNE); the NPU's dense FP16 GEMV (fp32 accumulation in k order, fp32 out), no
  scales.
- ``int4-sparse24`` / ``int8-sparse24``: the 2:4-pruned model (:func:`prune_24`, fine-tuned
  with the mask, :data:`SPARSE_WEIGHTS`) quantized as ``int4`` / ``int8`` (a zero stays zero,
  so the quantized weights are 2:4 sparse too); on the NPU the 2:4 GEMV: with the gather path
  (``npu_gather``) the zero MACs skipped and int4 positions as shared base-6 codes
  (:mod:`dure.sim.gemv_gather_plan`), else the expanding ``SPARSE24_LANES`` /
  ``SPARSE24_INT4_LANES`` LOAD (:mod:`dure.sim.gemv_plan`), exactly as ``dure gemm
  --weight-format`` runs them.
"""

import pathlib
from dataclasses import dataclass, field

import numpy as np

from .gemv_plan import gemv_program
from .golden_int4 import dequantize_w4a16

__all__ = ["FORMATS", "SPARSE_FORMATS", "W4A16_GROUP", "SPARSE_WEIGHTS", "QuantModel",
           "quantize", "prune_24", "mask_24", "is_pruned_24", "check_variant", "gemv_args",
           "quant_matmul", "quantize_vector"]

#: Weight formats of the demo (module docstring).
FORMATS = ("int8", "int4", "w4a16", "fp16", "int4-sparse24", "int8-sparse24")
#: The formats that take the 2:4-pruned weights.
SPARSE_FORMATS = ("int4-sparse24", "int8-sparse24")
W4A16_GROUP = 32
#: The 2:4-pruned and fine-tuned weights (float16), written by ``dure decode-train --sparse``.
SPARSE_WEIGHTS = pathlib.Path(__file__).resolve().parent / "decode_weights_24.npz"
_CLIP_RATIOS = np.float32(np.arange(20, 0, -1) / 20)


def mask_24(w):
    """The 2:4 mask of ``w`` (K x N, K % 4 == 0) by magnitude: in every group of 4 consecutive
    k of a column the two largest ``|w|`` are kept (the lower k first on ties)."""
    k, n = w.shape
    if k % 4:
        raise ValueError(f"2:4 pruning needs K % 4 == 0, not K = {k}")
    groups = np.abs(w.astype(np.float32)).reshape(k // 4, 4, n)
    # Stable sort of -|w|: equal magnitudes keep k order, so the lower k wins a tie.
    order = np.argsort(-groups, axis=1, kind="stable")[:, :2, :]
    keep = np.zeros(groups.shape, bool)
    np.put_along_axis(keep, order, True, axis=1)
    return keep.reshape(k, n)


def prune_24(w):
    """``w`` with every group of 4 along K cut to its two largest magnitudes (:func:`mask_24`),
    the others set to +0."""
    return np.where(mask_24(w), w, np.zeros((), w.dtype)).astype(w.dtype)


def is_pruned_24(w):
    """True if every group of 4 along K of every column of ``w`` has at most 2 non-zeros."""
    k, n = w.shape
    return k % 4 == 0 and bool(((w != 0).reshape(k // 4, 4, n).sum(axis=1) <= 2).all())


@dataclass
class QuantModel:
    """Per matrix ``(name, layer)``: the weights as the NPU takes them and the scales: int8
    values (int4 in [-8, 7] for ``int4``, ``w4a16`` and ``int4-sparse24``) with float32 scales
    per column; ``w4a16`` float16 scales per group of :data:`W4A16_GROUP` k and column (shape
    (K / G, N)); ``fp16`` the float16 weights and no scales (None)."""

    model: object
    fmt: str
    mats: dict = field(default_factory=dict)

    def weight_bytes(self, config):
        """Bytes of weights in main memory the GEMV plans of ``config`` stream per token (each
        matrix once, in the layout of its plan: transposed, tile-major, 2:4 records, ...)."""
        return sum(len(gemv_program(config, q, a_addr=0, out_addr=0, param_addr=0,
                                    **gemv_args(self.fmt, s)).blobs[0][1])
                   for q, s in self.mats.values())


def gemv_args(fmt, scales):
    """The keyword arguments of :func:`dure.sim.gemv_plan.gemv_program` for a matrix of
    format ``fmt`` (its ``scales`` for W4A16): precision and weight format."""
    if fmt == "w4a16":
        return dict(precision="fp16", fmt="int4", scales=scales, group_size=W4A16_GROUP)
    if fmt == "fp16":
        return dict(precision="fp16", fmt="dense")
    return dict(precision="int8", fmt={"int8": "dense"}.get(fmt, fmt))


def _int4_clipped(w, scale_dtype=np.float32):
    """Per column of ``w``: the scale ``s = max|w| * ratio / 7`` (ratio 1, 0.95, ..., 0.05;
    rounded to ``scale_dtype``, RNE) whose ``q = clip(rne(w / s), -8, 7)`` has the smallest
    squared error ``sum (q s - w)^2`` (the largest such ratio on ties); returns (q int8, s)."""
    top = np.maximum(np.abs(w).max(axis=0), np.float32(1e-4))
    best_q = best_s = best_err = None
    for ratio in _CLIP_RATIOS:
        s = (top * ratio / np.float32(7)).astype(scale_dtype).astype(np.float32)
        q = np.clip(np.rint(w / s), -8, 7)
        err = ((q * s - w) ** 2).sum(axis=0)
        if best_err is None:
            best_q, best_s, best_err = q, s, err
            continue
        better = err < best_err
        best_q = np.where(better, q, best_q)
        best_s = np.where(better, s, best_s)
        best_err = np.where(better, err, best_err)
    return best_q.astype(np.int8), best_s.astype(scale_dtype)


def _int8(w):
    s = np.maximum(np.abs(w).max(axis=0), 1e-8).astype(np.float32) / np.float32(127)
    return np.clip(np.rint(w / s), -127, 127).astype(np.int8), s


def _w4a16(w):
    k, n = w.shape
    g = k // W4A16_GROUP
    # Each group of a column as one column of (G, groups * N).
    cols = w.reshape(g, W4A16_GROUP, n).transpose(1, 0, 2).reshape(W4A16_GROUP, g * n)
    q, s = _int4_clipped(cols, np.float16)
    q = q.reshape(W4A16_GROUP, g, n).transpose(1, 0, 2).reshape(k, n)
    return np.ascontiguousarray(q), s.reshape(g, n)


def quantize(model, fmt="int8"):
    """The :class:`QuantModel` of ``model`` in ``fmt`` (module docstring), deterministic.
    The 2:4 formats need a 2:4-sparse model (:data:`SPARSE_WEIGHTS`): ``ValueError`` names the
    first matrix that is not."""
    if fmt not in FORMATS:
        raise ValueError(f"weights are {', '.join(FORMATS)}, not {fmt!r}")
    qm = QuantModel(model, fmt)
    named = [(("head", 0), model.head)] + [((name, i), w) for i, blk in enumerate(model.blocks)
                                           for name, w in blk.items()]
    for key, w in named:
        if fmt in SPARSE_FORMATS and not is_pruned_24(w):
            raise ValueError(f"{fmt} needs 2:4-pruned weights, and matrix {key[0]}{key[1]} is "
                             f"not 2:4 sparse (the pruned model is {SPARSE_WEIGHTS.name}, "
                             "written by dure decode-train --sparse)")
        if fmt in ("int8", "int8-sparse24"):
            qm.mats[key] = _int8(w)
        elif fmt in ("int4", "int4-sparse24"):
            qm.mats[key] = _int4_clipped(w)
        elif fmt == "w4a16":
            qm.mats[key] = _w4a16(w)
        else:
            qm.mats[key] = (np.ascontiguousarray(w.astype(np.float16)), None)
    return qm


def check_variant(config, fmt):
    """``ValueError`` with the reason when the SoC variant ``config`` cannot run the GEMVs of
    ``fmt``: no NPU, no FP16 datapath (``fp16``, ``w4a16``), an odd row count (int4 pairs), a
    row count not a multiple of 4 without the gather path (2:4 records), or a W4A16 group of
    :data:`W4A16_GROUP` k that is not a multiple of 4 x the rows (one scale per source row)."""
    if fmt not in FORMATS:
        raise ValueError(f"weights are {', '.join(FORMATS)}, not {fmt!r}")
    r = config.npu_rows
    name = config.name
    if not r:
        raise ValueError(f"variant {name!r} has no NPU: the decode demo's GEMVs run on one")
    if fmt in ("fp16", "w4a16") and not config.npu_fp16:
        raise ValueError(f"--weights {fmt} runs FP16 GEMVs and variant {name!r} has no FP16 "
                         "datapath (npu_fp16=False); use int8, int4 or a 2:4 format")
    if fmt in ("int4", "w4a16") and r % 2:
        raise ValueError(f"--weights {fmt} needs an even number of array rows, {name!r} has {r}")
    if fmt == "w4a16" and W4A16_GROUP % (4 * r):
        raise ValueError(f"--weights w4a16 (group of {W4A16_GROUP} k) needs 4 x the array rows "
                         f"to divide the group; {name!r} has {r} rows")
    if fmt in SPARSE_FORMATS and r % 4 and not (config.npu_gather and r % 2 == 0):
        raise ValueError(f"--weights {fmt} needs the gather path (npu_gather) or array rows a "
                         f"multiple of 4; {name!r} has {r} rows and no gather path")


def quantize_vector(x):
    """Symmetric int8 quantization of one activation vector: ``(1 x K int8, s_x)``,
    ``s_x = max|x| / 127`` (float32), ``q = clip(rne(x / s_x), -127, 127)``."""
    s = np.float32(max(float(np.abs(x).max()), 1e-8) / 127.0)
    return np.clip(np.rint(x / s), -127, 127).astype(np.int8).reshape(1, -1), s


def _quantize_rows(x):
    """:func:`quantize_vector` of every row of ``x`` (..., K): (int8 values, scales (...))."""
    s = (np.maximum(np.abs(x).max(-1).astype(np.float64), 1e-8) / 127.0).astype(np.float32)
    return np.clip(np.rint(x / s[..., None]), -127, 127).astype(np.int8), s


def quant_matmul(qm):
    """The quantized model's matrix products on the host, row by row: the integer formats
    exactly the integer GEMV the NPU computes (float64 sums of int8 products are exact) and the
    demo's dequantization; W4A16 and FP16 the fp16 activations times the (dequantized) fp16
    weights summed in float32 (numpy's order, not the NPU's sequential one: last-bit
    differences; for perplexities only)."""
    def matmul(name, layer, x):
        q, s = qm.mats[(name, layer)]
        if qm.fmt in ("w4a16", "fp16"):
            w = (dequantize_w4a16(q, s, W4A16_GROUP) if qm.fmt == "w4a16" else q)
            return x.astype(np.float16).astype(np.float32) @ w.astype(np.float32)
        a, sx = _quantize_rows(x)
        acc = (a.astype(np.float64) @ q.astype(np.float64)).astype(np.int32)
        return (acc.astype(np.float32) * (sx[..., None] * s)).astype(np.float32)
    return matmul
