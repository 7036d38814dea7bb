"""The ELTWISE command's contract: lane-wise operations on SPAD rows into ACC rows (TFLite's
INT8 ADD, the maximum of max pooling, the per-lane multiply-accumulate).

Part of the NPU command contract (:mod:`.commands`, which re-exports every name here and holds
the machine model, the descriptor format and the ordering and validation rules that apply to
every command). Imports only Amaranth.

``ELTWISE`` (opcode 6): lane-wise operations the array cannot do exactly, SPAD rows in, ACC
rows out: TFLite's INT8 ADD (the two input rescalings), the maximum of MAX_POOL_2D and the
per-lane multiply-accumulate of depthwise convolution and global pooling (``mac``).
    w0: ``opcode``, ``precision`` [4] (:class:`~dure.rtl.npu.isa.Precision` of the SPAD lanes),
    ``op`` [5] (:class:`EltwiseOp`), ``accumulate`` [6] (MAX and MAC), ``mac`` [7], ``reduce``
    [8] (MAC only), ``pair`` [9] (MAC only: two taps per row), ``init_row`` [10] (MAC only:
    every row starts from one ACC row), ``zp_a`` [23:16], ``zp_b`` [31:24] (ADD only; int8
    zero points, two's complement).
    w1: ``a_addr`` [15:0], ``b_addr`` [31:16] (ADD: B's first row; MAC: the weight row).
    w2: ``mult_a`` (ADD only, int32); for a ``pair`` MAC bits 15:0 are ``tap_step`` (bits
    31:16 reserved).
    w3: ``acc_addr`` [15:0], ``rshift_a`` [20:16], ``rshift_b`` [28:24] (ADD only; 0..31).
    w4: ``m`` [15:0] (>= 1), ``n`` [31:24] (1..C); w5 / w6: the walk of A (``a_cols``,
    ``a_rows``, ``a_col_step``, ``a_row_step``), exactly as COMPUTE's. w7: ``mult_b`` (ADD
    only); for an ``init_row`` MAC bits 15:0 are ``init_addr`` (bits 31:16 reserved).
    Row i = 0 .. m-1 reads SPAD row ``a(i) = a_addr + off(i)`` (``off(i) = i``, or the walk's
    ``(i // a_cols) * a_row_step + (i % a_cols) * a_col_step``) and, for ADD, ``b(i) = b_addr +
    off(i)`` (the same walk), and writes lanes j < n of ACC row ``acc_addr + i``; other lanes of
    the row are kept. Validation as COMPUTE's for the walk (``RESERVED`` walk fields with
    ``a_cols == 0``, ``ZERO_DIM``, ``BAD_COMBINATION`` for ``m != a_rows * a_cols``,
    ``LOCAL_RANGE`` for the largest row of A, of B (ADD) and ``acc_addr + m``); the ADD-only
    fields must be 0 for MAX (MAC: all but ``b_addr``), ``reduce`` 0 without ``mac``, and
    ``accumulate`` and ``mac`` 0 for ADD (``RESERVED``); ``BAD_COMBINATION``
    for ADD with FP16 precision, FP16 on hardware without FP16, an FP16 MAC with ``reduce`` or
    on hardware without the FP16 MAC (``config.npu_eltwise_fp16_mac`` False), and every
    ELTWISE on hardware built without the unit (``config.npu_eltwise`` False).

    - ``ADD`` (INT8 only): with ``x`` the int8 in bits 7:0 of a lane, ``ACC = s(A, zp_a,
      mult_a, rshift_a) + s(B, zp_b, mult_b, rshift_b)`` as int32, where ``s(x, zp, M, r) =
      RoundingDivideByPOT(SaturatingRoundingDoublingHighMul((x - zp) << 20, M), r)`` (gemmlowp;
      ``M`` any int32; TFLite's ``MultiplyByQuantizedMultiplierSmallerThanOneExp`` with shift
      ``-r``; ``|s| < 2**28``, nothing wraps). A STORE INT8 -> INT8 in
      ``TFLITE_DOUBLE_ROUNDING`` with the output multiplier / shift rows, the output zero point
      and the clamp then gives TFLite's ADD exactly (:func:`dure.sim.golden_tflite.add_int8`).
    - ``MAC`` (``mac`` set, ``op`` = 0 (MAX's code)): INT8: lane j < n of row i gets
      ``init + A[a(i), j] * W[j]`` as int32 (wrapping modulo 2**32; the int8 lanes in bits 7:0,
      sign-extended, the product exact), where ``W`` is SPAD row ``b_addr`` (one row for the
      whole command, no walk) and ``init`` is the ACC row's value with ``accumulate``, else 0.
      Without ``reduce`` row i writes ACC row ``acc_addr + i``. With ``reduce`` every row
      writes ACC row ``acc_addr``, in order: ``ACC[acc_addr] = init + sum_i A[a(i)] * W``
      (``LOCAL_RANGE``: ``acc_addr`` must lie in the ACC, in place of ``acc_addr + m``). A
      depthwise tap is one MAC (the tap's weights in ``W``, A the walk of the tap over the
      image tile, ``accumulate`` after the first tap):
      C channels per cycle, like a diagonal COMPUTE, with no weight load and no array latency
      between taps; global pooling is one ``reduce`` MAC per channel chunk with a row of ones
      as ``W``. The ADD-only fields other than ``b_addr`` must be 0 (``RESERVED``), ``op`` must
      be 0 and ``reduce`` needs ``mac`` (``RESERVED``); ``b_addr`` must lie in the SPAD
      (``LOCAL_RANGE``).

      FP16 (needs the FP16 MAC, ``config.npu_eltwise_fp16_mac``, else ``BAD_COMBINATION``):
      lane j of row i gets ``init + A[a(i), j] * W[j]`` with the lanes and ``W`` as binary16,
      the product exact in binary32 and the sum binary32 round-to-nearest-even
      (:func:`dure.sim.golden.lanes_mac_fp16`: subnormals kept, Inf propagates, Inf * 0 and
      Inf + (-Inf) NaN, every NaN ``0x7FC00000``); ``init`` the ACC row as fp32 with
      ``accumulate``, else +0.0. With ``pair`` the second tap is added after the first, a
      second binary32 RNE addition: ``(init + A W) + A2 W2``, so taps in kernel order keep the
      FP16 contract's sequential order. ``reduce`` with FP16 is ``BAD_COMBINATION`` (its sum
      over rows would need another order). Timing (not contract): the FP16 lanes are a
      16-stage pipeline (4 multiply, 6 + 6 add), one row per cycle; a command takes ``m +
      20`` cycles.

      Pair (``pair`` set, needs ``mac``, else ``RESERVED``): every row takes two taps: lane j
      of row i gets ``init + A[a(i), j] * W[j] + A[a(i) + tap_step, j] * W2[j]`` (int32,
      wrapping; ``W2`` is SPAD row ``b_addr + 1``), so two taps of a depthwise window whose
      tile rows lie ``tap_step`` apart (``tap_step`` = 1: horizontal neighbours; ``Wp - kw +
      1``: the last tap of a kernel row and the first of the next) cost one row, and a
      ``reduce`` sums two pixels per row. ``LOCAL_RANGE`` also when ``a_last + tap_step`` or
      ``b_addr + 1`` lies past the SPAD (``a_last`` the largest row of A's walk). Without
      ``pair``, bits 15:0 of w2 are ``mult_a``'s and must be 0 like the rest (``RESERVED``).
      Timing (not contract): the unit reads the weight row(s) once, in one cycle before the
      rows, then one row (two SPAD reads with ``pair``) per cycle: ``C`` MACs per cycle, ``2
      C`` with ``pair``.

      Init row (``init_row`` set, needs ``mac``, else ``RESERVED``): ``init`` is lane j of
      ACC row ``init_addr`` for every row (a depthwise layer's bias row, LOADed once and
      shared by every block of its channel chunk) instead of the row's own value: INT8
      ``init + A W (+ A2 W2)`` as int32, FP16 ``(init + A W) + A2 W2`` in binary32 as above,
      exactly what a broadcast of that row into the written rows followed by ``accumulate``
      gives. With ``reduce``: ``ACC[acc_addr] = ACC[init_addr] + sum_i ...``. ``init_row``
      with ``accumulate``, or ``init_addr`` among the rows the command writes (``[acc_addr,
      acc_addr + m)``, ``+1`` with ``reduce``), is ``BAD_COMBINATION``; ``init_addr`` past
      the ACC ``LOCAL_RANGE``; without ``init_row`` bits 15:0 of w7 are ``mult_b``'s and
      must be 0 like the rest (``RESERVED``). Timing (not contract): the unit reads ACC row
      ``init_addr`` on its ACC read port for every row (as ``accumulate`` reads the row's
      own), so the command takes the same cycles; the dispatcher orders it after a LOAD
      into ACC that writes ``init_addr`` (and a later such LOAD after it).

      PERF_MACS counts the products of a MAC: ``m * n`` per command, ``2 * m * n`` with
      ``pair`` (``reduce`` or not); ADD and MAX count none.
    - ``MAX``: ``v`` = the lane as int32 (INT8: bits 7:0 sign-extended) or as fp32 (FP16: the
      exact widening). Without ``accumulate`` ``ACC = v``; with it ``ACC = max(ACC, v)``: INT8
      the signed int32 maximum; FP16 the IEEE maximum in binary32 where a NaN operand (either)
      gives the canonical NaN ``0x7FC00000`` and ``+0.0`` is above ``-0.0``. (Without
      ``accumulate`` an fp16 NaN also becomes ``0x7FC00000``.) A window's maximum is one MAX per
      tap, the first without ``accumulate``; a STORE FP16 -> FP16 (optional clamp) or INT8 ->
      INT8 (TFLite mode with multiplier ``2**30`` and shift 1, which is the identity on
      |acc| < 2**30, zero point 0, the clamp) writes it.
"""

from amaranth.lib import enum

__all__ = ["EltwiseOp"]


class EltwiseOp(enum.Enum, shape=1):
    """Operation of an ELTWISE command (descriptor word 0, bit 5)."""

    MAX = 0    # maximum (MAX_POOL_2D), INT8 or FP16, optionally into the ACC row's value
    ADD = 1    # TFLite INT8 ADD: both inputs rescaled, summed as int32
