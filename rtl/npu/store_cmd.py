"""The STORE command's contract: ACC rows through the post-processing into main memory, its
output types, requantization modes and the table of legal (acc_type, out) pairs.

Part of the NPU command contract (:mod:`.commands`, which re-exports every name here and holds
the machine model, the descriptor format and the ordering and validation rules that apply to
every command). Imports only Amaranth and :mod:`.isa`.

``STORE`` (opcode 3): ACC -> post-processing -> main memory, 2-D strided.
    w0: ``opcode``, ``out`` [5:4] (:class:`OutType`), ``acc_type`` [6]
    (:class:`~dure.rtl.npu.isa.Precision` of the ACC contents: INT8 means int32 lanes, FP16
    means fp32 lanes), ``scale`` [7] (multiply by the per-column fp32 scales in ACC row
    ``scale_addr``), ``clamp`` [8] (clamp to [lo, hi]), ``zero_point`` [23:16] (int8, two's
    complement; INT8 output only), ``requant`` [10:9] (:class:`RequantMode`; non-zero only for
    INT8 -> INT8, value 3 is reserved), ``lane_scales`` [11] (per-row parameters, below),
    ``lane_sum`` [12] (below).
    w1: ``dram_addr`` (aligned to the output element size).
    w2: ``dram_stride`` (bytes; multiple of the output element size, >= cols * out_bytes).
    w3: ``rows`` [15:0] (>= 1), ``cols`` [31:16] (1..C).
    w4: ``acc_addr`` [15:0], ``scale_addr`` [31:16] (read only when ``scale`` is set).
    w5: ``lo``; w6: ``hi``: for INT8 output two's-complement integers with
    -128 <= lo <= hi <= 127 (read only for INT8 output, where they are always used: set
    -128/127 for no clamp); for FP16/FP32 output fp32 bit patterns with lo <= hi, neither NaN
    (read only when ``clamp`` is set). Otherwise must be zero.
    Output element c of row r goes to ``dram_addr + r * stride + c * out_bytes``. The function
    per (acc_type, out) is exactly :mod:`dure.sim.golden`'s:

    ========  ======  ===========================================================  =========
    acc_type  out     value                                                        scale
    ========  ======  ===========================================================  =========
    INT8      INT8    ``requantize(acc, scale, zero_point, lo, hi)``               required
    INT8      INT32   ``acc`` (raw)                                                forbidden
    INT8      FP16    ``dequantize_fp16(acc, scale)`` (clamp, if set, on the f32)  required
    FP16      FP16    ``fp16_postprocess(acc, scale or None, lo, hi)``             optional
    FP16      FP32    ``acc * scale`` (one fp32 RNE multiply) then clamp; raw if   optional
                      neither is set
    ========  ======  ===========================================================  =========

    Any other combination is refused (``BAD_COMBINATION``). A build without the fp32
    post-processing (``config.npu_float_post`` False, INT8-only boards) also refuses the rows
    that need fp32 arithmetic: INT8 -> FP16, and INT8 -> INT8 in the ``FLOAT_SCALE`` mode; it
    keeps INT8 -> INT32 and the TFLite ``requant`` modes.

    Requantization mode of INT8 -> INT8 (``requant``, :class:`RequantMode`):

    - ``FLOAT_SCALE`` (0): the ``requantize`` row of the table (ONNX / onnxruntime); ACC row
      ``scale_addr`` holds the fp32 scales.
    - ``TFLITE_DOUBLE_ROUNDING`` (1): ``y = clamp(MultiplyByQuantizedMultiplier(acc, M_j,
      shift_j) + zero_point, lo, hi)`` with TFLite's double rounding
      (``SaturatingRoundingDoublingHighMul(acc << max(shift, 0), M)`` then
      ``RoundingDivideByPOT(max(-shift, 0))``, ties away from zero), as LiteRT's CONV_2D and
      DEPTHWISE_CONV_2D reference kernels compute it
      (:func:`dure.sim.golden_fixedpoint.multiply_by_quantized_multiplier`).
    - ``TFLITE_SINGLE_ROUNDING`` (2): the same with ``(acc * M + 2**(30 - shift)) >> (31 -
      shift)`` (one rounding, ties toward +infinity); the compiler's FULLY_CONNECTED layers use
      it (or the double rounding) with multipliers proven equal to LiteRT's double rescale
      (:func:`dure.sim.golden_fixedpoint.multiply_by_quantized_multiplier_single_rounding`).

    In both TFLite modes ``scale`` must be set; ACC row ``scale_addr`` holds the int32
    multipliers ``M_j`` and ACC row ``scale_addr + 1`` the int32 shifts ``shift_j`` (positive =
    left shift), one per column; both rows must lie in the ACC (``LOCAL_RANGE``). A shift
    lane outside [-31, 30] is not refused (the validator does not read ACC): it saturates to
    that range. Every multiplier lane is legal (any int32). The function is
    :func:`dure.sim.golden_requant_tflite.requantize_tflite`. A non-zero ``requant`` with
    any other (acc_type, out) pair is refused (``BAD_COMBINATION``); ``requant = 3`` is
    refused (``RESERVED``).

    Per-row parameters (``lane_scales`` set; for a column of channels, one per ACC row, as the
    GEMV plan leaves them): needs ``scale`` set and ``cols == 1`` (else ``BAD_COMBINATION``).
    Output row r (0 .. rows-1) is computed as above with, in place of lane 0's parameters,
    lane ``r % C`` of parameter group ``g = r // C`` (C = the ACC's lanes): its scale in ACC
    row ``scale_addr + g`` (``FLOAT_SCALE`` and the fp outputs), or in a TFLite mode its
    multiplier in ACC row ``scale_addr + 2 g`` and its shift in row ``scale_addr + 2 g + 1``.
    So channels ``g C .. g C + C - 1`` have their parameters side by side in one row (pair of
    rows), the per-column layout. The last parameter row, ``scale_addr + p ((rows - 1) // C)
    + p - 1`` with ``p`` = 1 or 2 rows per group, must lie in the ACC (``LOCAL_RANGE``).

    Lane sum (``lane_sum`` set; the reduction after a ``gather`` COMPUTE): needs ``acc_type``
    INT8, ``cols == 1`` and hardware with the gather path (else ``BAD_COMBINATION``). The value
    of output row r is the int32 sum (wrapping) of lanes 0..3 of ACC row ``acc_addr + r`` in
    place of its lane 0, then the post-processing above for that one column (any INT8 output
    type; per-row parameters with ``lane_scales``).
"""

from amaranth.lib import enum

from .isa import Precision

__all__ = ["OutType", "RequantMode", "STORE_COMBINATIONS", "out_bytes"]


class OutType(enum.Enum, shape=2):
    """Element type a STORE writes to main memory."""

    INT8 = 0
    INT32 = 1
    FP16 = 2
    FP32 = 3


class RequantMode(enum.Enum, shape=2):
    """Requantization of an INT8 -> INT8 STORE (descriptor word 0, bits 10:9); 3 is reserved."""

    FLOAT_SCALE = 0             # fp32 scale per column (ONNX / onnxruntime)
    TFLITE_DOUBLE_ROUNDING = 1  # int32 multiplier + shift, SRDHM then RoundingDivideByPOT
    TFLITE_SINGLE_ROUNDING = 2  # int32 multiplier + shift, one rounding (ties toward +inf)


#: The STORE table (module docstring): legal (acc_type, out) pairs -> scale rule, ``"required"``,
#: ``"forbidden"`` or ``"optional"``. Any pair not listed is refused (``BAD_COMBINATION``).
#: The order is the table's: per precision, its default output type comes first.
STORE_COMBINATIONS = {
    (Precision.INT8, OutType.INT8): "required",
    (Precision.INT8, OutType.INT32): "forbidden",
    (Precision.INT8, OutType.FP16): "required",
    (Precision.FP16, OutType.FP16): "optional",
    (Precision.FP16, OutType.FP32): "optional",
}


def out_bytes(out):
    """Bytes per element of an :class:`OutType`."""
    return {OutType.INT8: 1, OutType.INT32: 4, OutType.FP16: 2, OutType.FP32: 4}[OutType(out)]
