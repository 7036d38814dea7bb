"""Why the NPU refuses a command or stops one: the error codes, in the order the checks run.

Part of the NPU command contract (:mod:`.commands`, which re-exports :class:`ErrorCode` and
states the Validation rules: a refused command does nothing and the NPU goes on with the next
one). The ERROR register (:mod:`.register_map`) reports the code. Imports only Amaranth.
"""

from amaranth.lib import enum

__all__ = ["ErrorCode"]


class ErrorCode(enum.Enum, shape=4):
    """Why a command was refused; checks run in this order, the first failure wins.

    ``BAD_OPCODE``       opcode not in :class:`~.commands.Opcode`.
    ``RESERVED``         a reserved bit or field is not zero; or an encoding value that is not
                         defined (LoadTarget 2-3, ElemType 3, RequantMode 3); w5 of a
                         LOAD neither fill nor INT4_FP16; walk fields
                         with a_cols zero; placement fields with local_cols zero; dram_addr,
                         dram_stride or broadcast of a fill LOAD; an ELTWISE field its op
                         does not read.
    ``ZERO_DIM``         rows, cols, m, k, n or a LIST's count is zero; a_rows zero with a_cols
                         non-zero; local_groups zero with local_cols non-zero.
    ``DIM_TOO_LARGE``    cols, k or n larger than the array allows (see the opcode).
    ``BAD_COMBINATION``  LOAD target/elem mismatch; a weight format with ACC, fill,
                         broadcast or the wrong elem, or a 2:4 one or INT4_FP16_ROWS with rows % 4
                         (lane-grouped 2:4: cols % 4; with ``keep``: cols % 2, and with
                         ``keep`` and ``SPARSE24_INT4``: rows % 3, not rows % 4); ``keep``
                         without a lane-grouped 2:4 format or ``SPARSE24_INT4``; a
                         COMPUTE ``gather`` with FP16, ``diagonal`` or ``init_row``; a
                         STORE ``lane_sum`` with FP16 acc_type or cols != 1;
                         any of ``keep`` / ``gather`` / ``lane_sum`` without
                         ``npu_gather``; INT4_FP16(_ROWS)
                         on hardware without FP16; FP16
                         precision or OS dataflow on hardware without it; STORE
                         acc_type/out/scale combination not in the table;
                         INT8 lo > hi or outside [-128, 127]; fp clamp bound NaN or lo > hi;
                         a TFLite ``requant`` mode outside INT8 -> INT8; a walked COMPUTE
                         with m != a_rows * a_cols; a placed LOAD with
                         rows != local_groups * local_cols; a LIST entry that is itself a LIST;
                         on hardware without the fp32 post-processing (``npu_float_post``
                         False), an INT8 -> FP16 STORE or an INT8 -> INT8 one with
                         ``FLOAT_SCALE``; an ELTWISE ADD in FP16, an FP16 MAC with reduce
                         or without ``npu_eltwise_fp16_mac``, or any ELTWISE without
                         the unit (``npu_eltwise`` False).
    ``MISALIGNED``       dram_addr or dram_stride not a multiple of the element size (not
                         checked for a fill LOAD); a LIST's list_addr not a multiple of 4.
    ``STRIDE``           dram_stride shorter than one row (cols * element size), unless
                         broadcast or fill.
    ``LOCAL_RANGE``      a SPAD or ACC row range (including scale_addr, and scale_addr + 1 in a
                         TFLite ``requant`` mode; the largest row of a COMPUTE walk or of a
                         LOAD placement) runs past the memory.
    ``DMA_WINDOW``       some byte of the 2-D main-memory footprint lies outside the DMA window
                         (the check covers the first byte of the first row to the last byte of
                         the last row, computed without 32-bit overflow; none for a fill); for a
                         LIST, some byte of its 32 * count bytes of entries.
    ``BUS_ERROR``        during execution, the bus answered err to a DMA access (of a LOAD, a
                         STORE, or the fetch of a LIST entry).
    """

    NONE = 0
    BAD_OPCODE = 1
    RESERVED = 2
    ZERO_DIM = 3
    DIM_TOO_LARGE = 4
    BAD_COMBINATION = 5
    MISALIGNED = 6
    STRIDE = 7
    LOCAL_RANGE = 8
    DMA_WINDOW = 9
    BUS_ERROR = 10
