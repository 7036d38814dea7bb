"""The NPU command contract: descriptor format, commands, ordering and validation rules.

This module and the modules it gathers are the one source of these encodings. The RTL (command
processor, units), the golden command model (:mod:`dure.sim.npu_model`), the firmware header
(``dure_npu.h``) and the tests all read them from here: every public name of the contract is
importable from this module. One concept per file:

- this module: the machine model, the descriptor format, the opcodes (:class:`Opcode`), the
  COMPUTE, FENCE and LIST commands (they have no encodings of their own beyond
  :mod:`.isa`'s), the ordering and validation rules;
- :mod:`.load_cmd`: LOAD (targets, element types, weight formats, bytes read);
- :mod:`.store_cmd`: STORE (output types, requantization modes, the STORE table);
- :mod:`.eltwise_cmd`: ELTWISE (its operations);
- :mod:`.error_codes`: :class:`ErrorCode`, the checks in the order they run;
- :mod:`.register_map`: the registers, STATUS / CONTROL bits, CONFIG / ERROR fields, sequence
  numbers and performance counters.

Direction of the contracts: these modules are the top of ``rtl/npu`` and import only :mod:`.isa`
(precision and dataflow encodings) and each other's modules listed above (never this one).
Below them, :mod:`.descriptor` places the fields in descriptor words (and gives the Amaranth
layout of a descriptor), :mod:`.link` is the control-to-datapath interface, :mod:`.dma_command`
the DMA command layout; the blocks (queue, validator, dispatcher, registers, counters, units)
import these and never a constant from a sibling block. Sizes and tables shared between blocks
live in the contract: :data:`DESCRIPTOR_WORDS`, :data:`SEQ_BITS`, :data:`STORE_COMBINATIONS`,
:data:`PERF_COUNTERS`.

Machine model
-------------
The NPU has an R x C systolic array (``config.npu_rows`` x ``config.npu_cols``), a scratchpad
(SPAD) of ``config.npu_spad_rows`` rows of L = max(R, C) 16-bit lanes, and an accumulator memory
(ACC) of ``config.npu_acc_rows`` rows of C 32-bit lanes. Addresses of SPAD and ACC are row
indices. Main memory is reached by DMA, only inside the *DMA window* that firmware sets in the
``DMA_BASE`` / ``DMA_SIZE`` registers (reset: empty window, every DMA command is refused).

A SPAD lane holds one int8 (bits 7:0, sign-extended to 16 bits) or one fp16. An ACC lane holds
one int32 or one fp32.

Commands
--------
Every command is a descriptor of 8 little-endian 32-bit words (:data:`DESCRIPTOR_WORDS`).
Word 0 holds the opcode in bits 3:0 and opcode-specific flags; fields not listed for an opcode
are reserved and must be zero.

The commands by opcode (:class:`Opcode`): ``LOAD`` (1, :mod:`.load_cmd`), ``COMPUTE`` (2,
below), ``STORE`` (3, :mod:`.store_cmd`), ``FENCE`` (4, below), ``LIST`` (5, below),
``ELTWISE`` (6, :mod:`.eltwise_cmd`).

``COMPUTE`` (opcode 2): ``ACC[acc + m, n] = init[m, n] + sum_k A[m, k] * W[k, n]``, sequentially
over k, in the command's precision.
    w0: ``opcode``, ``precision`` [4] (:class:`~dure.rtl.npu.isa.Precision`), ``dataflow`` [5]
    (:class:`~dure.rtl.npu.isa.Dataflow`), ``accumulate`` [6] (init = the ACC row's current
    value; otherwise init = 0, i.e. int32 0 or fp32 +0.0), ``diagonal`` [7] (below),
    ``gather`` [8] (below),
    ``init_row`` [9] (init = ACC row ``init_addr``'s lanes 0..N-1 for every row m: a bias row
    held in ACC, read as int32 / fp32 bits like ``accumulate``'s; ``accumulate`` must then be 0
    and ``init_addr`` must not be one of the rows the command writes, else ``BAD_COMBINATION``).
    w1: ``a_addr`` [15:0]: first SPAD row of A (lanes 0..K-1 of each row; see the walk below).
    w2: ``w_addr`` [15:0]: SPAD row of W's row k is ``w_addr + k``, lanes 0..N-1.
    w3: ``acc_addr`` [15:0]: ACC row of output row m is ``acc_addr + m``.
    w4: ``m`` [15:0] (>= 1), ``k`` [23:16] (1..R), ``n`` [31:24] (1..C).
    w5: ``a_cols`` [15:0], ``a_rows`` [31:16]; w6: ``a_col_step`` [15:0], ``a_row_step``
    [31:16]: the walk of A's rows.
    w7: ``init_addr`` [15:0]: with ``init_row``, the ACC row every output row starts from (must
    lie in ACC: ``LOCAL_RANGE``); without it, 0 (``RESERVED``).
    Only lanes 0..N-1 of each ACC row are written; k beyond K does not take part at all (so FP16
    signed zeros are exactly those of the sequential sum over the K real terms).

    Walk of A: with ``a_cols == 0`` A's row m is SPAD row ``a_addr + m`` and ``a_rows``,
    ``a_col_step``, ``a_row_step`` must be 0 (``RESERVED``). With ``a_cols != 0`` the M rows
    walk a 2-D grid of ``a_rows`` x ``a_cols``: A's row m is SPAD row ``a_addr + (m // a_cols)
    * a_row_step + (m % a_cols) * a_col_step``; ``m`` must equal ``a_rows * a_cols`` (else
    ``BAD_COMBINATION``; ``a_rows == 0`` is ``ZERO_DIM``); the steps may be any value,
    including 0; the largest row read, ``a_addr + (a_rows - 1) * a_row_step + (a_cols - 1) *
    a_col_step`` (computed without overflow), must be < spad_rows (``LOCAL_RANGE``). ACC rows
    stay contiguous (``acc_addr + m``). With an image tile held one pixel per SPAD row (row
    pitch ``Wp``, padding border included), one kernel tap (ky, kx) over a block of output
    pixels at stride s is ``a_addr = base + ky * Wp + kx``, ``a_col_step = s``, ``a_row_step =
    s * Wp``; the taps accumulate in ACC.

    Diagonal (``diagonal`` set): only the products with k == n take part, all others do not
    take part at all (exactly like k >= K): ``ACC[acc + m, n] = init[m, n] + A[m, n] * W[n, n]``
    for n < min(K, N), and ``ACC[acc + m, n] = init[m, n]`` for K <= n < N (in FP16 with the
    NaN of init canonicalised, as any result). An Inf or NaN in an off-diagonal lane of A or W
    therefore never reaches another column. Depthwise convolution, average pooling and
    element-wise addition map onto it (a diagonal weight matrix per tap). PERF_MACS counts the
    products that take part: ``m * k * n``, or ``m * min(k, n)`` with ``diagonal``.

    Gather (``gather`` set; the 2:4 MAC skipping of ``docs/sparse_skip.md``): INT8 only, each
    A lane takes part in the one column its tag names: with ``tag(a)`` = bits 9:8 of the lane
    (a ``keep`` LOAD's position), ``ACC[acc + m, n] = init[m, n] + sum over i < k with
    tag(A[m, i]) == n of A[m, i] * W[i, n]`` (int8 bits 7:0 of both, int32 wrapping), so
    columns n >= 4 keep ``init``. Refused (``BAD_COMBINATION``) with FP16 precision, with
    ``diagonal``, with ``init_row`` and on hardware without the gather path
    (``config.npu_gather``). PERF_MACS counts ``m * k`` for a gather (one product per A
    lane). With the activation candidates of
    lane i's group in W's row i (lane c = the activation at position c), the row's lanes 0..3
    sum to the dense dot product of the expanded weights (a STORE with ``lane_sum``).

``FENCE`` (opcode 4): waits until every earlier command has finished (all DMA writes done),
    then, if ``irq`` [4] is set, sets STATUS.fence_irq (an interrupt when enabled).
    w1..w7 reserved.

``LIST`` (opcode 5): runs a command list from main memory (one DOORBELL for a whole layer).
    w0: ``opcode`` only. w1: ``list_addr`` (byte address of entry 0, a multiple of 4).
    w2: ``count`` [15:0] (>= 1; bits 31:16 reserved). w3..w7 reserved.
    The list is ``count`` entries of :data:`DESCRIPTOR_WORDS` little-endian words (32 bytes)
    each, entry i at ``list_addr + 32 * i``; all of ``[list_addr, list_addr + 32 * count)``
    must lie inside the DMA window (``DMA_WINDOW``). The NPU fetches the entries by DMA (ahead
    of execution) and they take effect exactly as if they had been written to DOORBELL one
    after another in place of the LIST: each entry is validated like a pushed command and
    ordered by the same rules; commands pushed after the LIST come after its last entry.

    - Sequence numbers: a LIST whose word 2 bits 15:0 hold ``c`` occupies ``c + 1`` numbers
      whatever happens to it: ``s`` for the LIST itself, ``s + 1 + i`` for entry i; the next
      pushed command gets ``s + c + 1``. ISSUED grows by ``c + 1`` at the DOORBELL write; DONE
      grows by 1 when the LIST is accepted and by 1 per entry as it finishes (executed or
      refused). A refused LIST (any error code; nothing is fetched) adds ``c + 1`` to DONE at
      once, so DONE == ISSUED means "all done" as for single commands.
    - A refused entry records its code, its own sequence number and its index i (ERROR,
      ERROR_INDEX) like any refusal; the list goes on with entry i + 1.
    - No nesting: an entry whose opcode is LIST is refused with ``BAD_COMBINATION`` (after the
      ``RESERVED`` and ``ZERO_DIM`` checks, in :class:`ErrorCode` order; it occupies one
      sequence number only). Chaining lists is the core's job (or one longer list).
    - A bus error while fetching entry i: ERROR = (``BUS_ERROR``, ``s + 1 + i``), ERROR_INDEX =
      i; entries 0..i-1 execute normally, entries i..c-1 do not execute (DONE counts them as
      finished at that point), and the NPU goes on with the next pushed command.
    - Main memory is not hazard-tracked: entries are read some time after the DOORBELL write
      and before the entries in front of them finish, so a list written by an earlier STORE
      needs a FENCE between that STORE and the LIST (the core's own stores are complete before
      its DOORBELL write). The list must not be changed until the LIST's entries are done (a
      FENCE after the LIST or DONE reaching ``s + c + 1``).
    - Timing (not contract): entries are fetched up to ``npu_list_entries`` ahead of the
      validator, through the same bus port as the DMA (round-robin with it) or, with
      ``npu_list_port``, over the fetcher's own port; their bytes are not counted in
      PERF_DMA_RD. A LIST whose range lies in the DMA window has entry 0 read while the LIST
      itself is validated (a speculative read: a refused LIST's words are dropped unseen, so
      the refusal is as above).

Ordering
--------
Commands take effect as if executed one at a time in queue order, as far as SPAD and ACC
contents are concerned: the hardware tracks hazards between LOAD, COMPUTE and STORE on their
local row ranges and overlaps only independent commands (LOAD of the next tile with COMPUTE of
this one and STORE of the previous one). COMPUTEs also overlap each other when one accumulates
onto ACC rows an earlier one writes (a K-tiled chain): the execute unit orders that per ACC
row, reading an init row only after the earlier command's result row has been written.
Main memory is not tracked: a LOAD that reads bytes an earlier STORE writes must be separated
from it by a FENCE.

Validation
----------
Every command is checked completely before it starts, in the order of :class:`ErrorCode` (the
first failing check gives the code). A refused command does nothing at all: it touches no
memory, SPAD or ACC. The NPU records the code and the command's sequence number in ``ERROR``,
sets STATUS.error (an interrupt when enabled), and goes on with the next command. Errors that
arise during execution (``BUS_ERROR``: the bus answered err to a DMA access, possible only if
memory inside the window is not backed) are recorded the same way; the command stops at the
failing access.
"""

from amaranth.lib import enum

from .eltwise_cmd import EltwiseOp
from .error_codes import ErrorCode
from .isa import Dataflow, Precision
from .load_cmd import (
    FOUR_ROW_FORMATS,
    FP16_FORMATS,
    KEEP_BASE6_FORMAT,
    LANE_SPARSE_FORMATS,
    ElemType,
    LoadTarget,
    WeightFormat,
    elem_bytes,
    load_source,
    read_bytes,
)
from .register_map import (
    CONFIG_FIELDS,
    ERROR_FIELDS,
    ID_MAGIC,
    PERF_COUNTERS,
    SEQ_BITS,
    Control,
    Register,
    Status,
    config_word,
)
from .store_cmd import STORE_COMBINATIONS, OutType, RequantMode, out_bytes

__all__ = [
    "DESCRIPTOR_WORDS", "SEQ_BITS", "Opcode", "LoadTarget", "ElemType", "OutType", "ErrorCode",
    "RequantMode", "EltwiseOp", "WeightFormat", "load_source", "FOUR_ROW_FORMATS",
    "KEEP_BASE6_FORMAT",
    "LANE_SPARSE_FORMATS", "FP16_FORMATS", "read_bytes",
    "STORE_COMBINATIONS", "Register", "PERF_COUNTERS", "Status", "Control", "ID_MAGIC",
    "CONFIG_FIELDS", "ERROR_FIELDS", "config_word", "elem_bytes", "out_bytes", "Precision",
    "Dataflow",
]

#: Words (32-bit) per descriptor.
DESCRIPTOR_WORDS = 8


class Opcode(enum.Enum, shape=4):
    """Command opcodes (descriptor word 0, bits 3:0). 0 is never valid (zeroed memory)."""

    LOAD = 1
    COMPUTE = 2
    STORE = 3
    FENCE = 4
    LIST = 5
    ELTWISE = 6
