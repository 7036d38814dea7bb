"""The NPU's register map: offsets and access of the registers in the ``npu`` region, the
STATUS / CONTROL bits, the CONFIG and ERROR fields and the performance counters.

Part of the NPU command contract (:mod:`.commands`, which re-exports every name here); the
register block that implements it is :mod:`.regs`. Imports only Amaranth.
"""

from amaranth.lib import enum

__all__ = [
    "SEQ_BITS", "ID_MAGIC", "Register", "PERF_COUNTERS", "Status", "Control", "CONFIG_FIELDS",
    "ERROR_FIELDS", "config_word",
]

#: Width of command sequence numbers: commands are numbered from 0 in queue order since reset
#: (the ERROR register's ``seq`` field [31:8], the ISSUED / DONE counters).
SEQ_BITS = 24

#: Value of the ID register: "DNPU" in ASCII, little-endian.
ID_MAGIC = 0x5550_4E44


class Register(enum.Enum):
    """Byte offsets of the NPU registers inside the ``npu`` region.

    ``ID``          RO  :data:`ID_MAGIC`.
    ``CONFIG``      RO  the array shape and memory sizes, see :func:`config_word`.
    ``STATUS``      RW  :class:`Status` bits; the sticky bits are cleared by writing 1.
    ``CONTROL``     RW  :class:`Control` bits.
    ``DMA_BASE``    RW  first byte of the DMA window.
    ``DMA_SIZE``    RW  size of the DMA window in bytes (0: empty; base + size may not exceed
                        2**32, otherwise the window is empty).
    ``ERROR``       RO  code [3:0] (:class:`ErrorCode`) and sequence number [31:8] of the first
                        refused command since the error bit was last cleared.
    ``ISSUED``      RO  sequence numbers handed out since reset (24 bits used): 1 per pushed
                        command, ``count + 1`` per pushed LIST (see ``LIST``).
    ``DONE``        RO  commands finished (executed or refused) since reset, LIST entries
                        included (see ``LIST``).
    ``ERROR_INDEX`` RO  written together with ERROR: the index within its LIST of the command
                        ERROR names when that command is a LIST entry (refused, failed to be
                        fetched, or a LOAD / STORE entry that hit a bus error), 0xFFFF_FFFF
                        when it is not (and at reset).
    ``CMD0..CMD7``  WO  descriptor staging words.
    ``DOORBELL``    WO  any write pushes the staged descriptor into the queue; the write is
                        held off (no grant) while the queue is full, so firmware never loses a
                        command. Read STATUS.queue_full to avoid waiting.
    ``PERF_*``      RO  64-bit performance counters as LO/HI pairs (read LO first: HI is
                        latched when LO is read); cleared by CONTROL.perf_clear. A build
                        with ``config.npu_perf_bits = 32`` keeps 32 bits (HI reads 0).
                        FILL, GAPS and DRAIN split the cycles since the clear that are not
                        rows of work (a layer's fixed cost; a row: a COMPUTE row the array
                        takes or an ELTWISE row the element-wise unit computes): FILL from
                        the first cycle with STATUS.busy to the first row, GAPS the cycles
                        without a row between the first and the last row, DRAIN after the
                        last row up to and including the last busy cycle (a run with no row
                        counts all of its cycles from the first busy one to the last in
                        FILL).
    """

    ID = 0x00
    CONFIG = 0x04
    STATUS = 0x08
    CONTROL = 0x0C
    DMA_BASE = 0x10
    DMA_SIZE = 0x14
    ERROR = 0x18
    ISSUED = 0x1C
    DONE = 0x20
    ERROR_INDEX = 0x24
    CMD0 = 0x40
    CMD1 = 0x44
    CMD2 = 0x48
    CMD3 = 0x4C
    CMD4 = 0x50
    CMD5 = 0x54
    CMD6 = 0x58
    CMD7 = 0x5C
    DOORBELL = 0x60
    PERF_BUSY_LO = 0x80        # cycles with any command in flight
    PERF_BUSY_HI = 0x84
    PERF_MACS_LO = 0x88        # products: COMPUTE m*k*n (m*min(k,n) diagonal), ELTWISE MAC m*n
    PERF_MACS_HI = 0x8C
    PERF_COMPUTE_LO = 0x90     # cycles the array accepted an activation row
    PERF_COMPUTE_HI = 0x94
    PERF_DMA_RD_LO = 0x98      # bytes of the bus words DMA read from main memory (read_bytes)
    PERF_DMA_RD_HI = 0x9C
    PERF_DMA_WR_LO = 0xA0      # bytes written to main memory by DMA
    PERF_DMA_WR_HI = 0xA4
    PERF_STALL_DEP_LO = 0xA8   # cycles a ready command waited on a hazard with an earlier one
    PERF_STALL_DEP_HI = 0xAC
    PERF_STALL_MEM_LO = 0xB0   # cycles a DMA request waited for the bus (no grant)
    PERF_STALL_MEM_HI = 0xB4
    PERF_STALL_OUT_LO = 0xB8   # cycles the array was stalled by its output (ACC write)
    PERF_STALL_OUT_HI = 0xBC
    PERF_FILL_LO = 0xC0        # cycles from the first busy cycle to the first row
    PERF_FILL_HI = 0xC4
    PERF_GAPS_LO = 0xC8        # cycles between the first and the last row, no row
    PERF_GAPS_HI = 0xCC
    PERF_DRAIN_LO = 0xD0       # cycles after the last row up to the last busy one
    PERF_DRAIN_HI = 0xD4


#: The performance counters in register order (``PERF_<name>_LO`` / ``_HI`` of
#: :class:`Register`).
PERF_COUNTERS = ("BUSY", "MACS", "COMPUTE", "DMA_RD", "DMA_WR", "STALL_DEP", "STALL_MEM",
                 "STALL_OUT", "FILL", "GAPS", "DRAIN")


class Status(enum.Flag):
    """Bits of the STATUS register."""

    BUSY = 1 << 0         # RO: a command is queued or in flight
    QUEUE_FULL = 1 << 1   # RO: DOORBELL would wait
    ERROR = 1 << 2        # W1C: a command was refused or failed (see ERROR)
    FENCE_IRQ = 1 << 3    # W1C: a FENCE with irq set completed


class Control(enum.Flag):
    """Bits of the CONTROL register."""

    IRQ_ERROR = 1 << 0    # interrupt while STATUS.ERROR is set
    IRQ_FENCE = 1 << 1    # interrupt while STATUS.FENCE_IRQ is set
    PERF_CLEAR = 1 << 2   # write 1: clear the performance counters (reads 0)


#: Bit fields of the CONFIG register, {name: (lsb, width)}.
CONFIG_FIELDS = {"ROWS": (0, 6), "COLS": (6, 6), "FP16": (12, 1), "GATHER": (13, 1),
                 "LOG2_SPAD_ROWS": (16, 5), "LOG2_ACC_ROWS": (24, 5)}

#: Bit fields of the ERROR register, {name: (lsb, width)}: the :class:`ErrorCode` and the
#: refused command's sequence number.
ERROR_FIELDS = {"CODE": (0, 4), "SEQ": (8, SEQ_BITS)}


def config_word(config):
    """Value of the CONFIG register for an :class:`~dure.config.SoCConfig`.

    rows [5:0], cols [11:6], fp16 [12], gather [13] (the 2:4 MAC-skipping path,
    ``config.npu_gather``: LOAD ``keep``, its shared base-6 variant, COMPUTE ``gather``, STORE
    ``lane_sum``), log2(spad_rows) [20:16], log2(acc_rows) [28:24] (:data:`CONFIG_FIELDS`).
    """
    values = {"ROWS": config.npu_rows, "COLS": config.npu_cols, "FP16": int(config.npu_fp16),
              "GATHER": int(config.npu_gather),
              "LOG2_SPAD_ROWS": config.npu_spad_rows.bit_length() - 1,
              "LOG2_ACC_ROWS": config.npu_acc_rows.bit_length() - 1}
    word = 0
    for name, (lsb, width) in CONFIG_FIELDS.items():
        word |= (values[name] & ((1 << width) - 1)) << lsb
    return word
