"""Golden command model of the NPU: what a stream of descriptors does to memory, SPAD and ACC.

:class:`NpuModel` holds the architectural state of :mod:`dure.rtl.npu.commands` (main memory,
scratchpad, accumulator memory, the DMA window registers, the ERROR / ISSUED / DONE registers and
the MAC counter) and executes descriptors one at a time in queue order, which is how the
contract says they take effect. Each descriptor is first checked by
:func:`dure.sim.npu_validate.check`; a refused one changes nothing but the error registers.
Numerics are :mod:`dure.sim.golden`'s (COMPUTE) and :func:`dure.sim.postproc_ref.postprocess`
(STORE: the golden functions per the STORE table, also defined for non-finite scales that an ACC
row may hold).

Example
-------
>>> from dure.config import preset
>>> config = preset("sim")
>>> model = NpuModel(config)
>>> model.set_window(config.region("main").base, 4096)
>>> model.execute(encode(Opcode.FENCE, irq=1)), model.fence_irq
(<ErrorCode.NONE: 0>, True)

Readings of the contract (the RTL implements the same)
    - An INT8 COMPUTE uses bits 7:0 of each SPAD lane as the int8 operand; an FP16 COMPUTE uses
      all 16 bits as binary16 (whatever LOAD put there).
    - A COMPUTE with ``accumulate`` starts from the ACC lanes' bits read as int32 (INT8) or fp32
      (FP16); the FP16 sum is ``golden.gemm_fp16(a, w, init=acc)`` (sequential over k, NaN
      canonical on output). INT8 wraps modulo 2**32. With ``init_row`` every row starts from
      ACC row ``init_addr`` the same way (read before the command writes any row).
    - A walked COMPUTE (``a_cols != 0``) reads A's row m from SPAD row ``a_addr + (m // a_cols)
      * a_row_step + (m % a_cols) * a_col_step`` (rows may repeat); ``diagonal`` computes each
      column j < min(k, n) as the one-term sum ``init + A[:, j] * W[j, j]`` and leaves columns
      j >= k at ``init`` (FP16: NaN canonical), so no other lane can leak into a column.
    - An ELTWISE (:class:`~dure.rtl.npu.commands.EltwiseOp`) reads the lanes as COMPUTE does
      (bits 7:0 in INT8, all 16 in FP16) and writes lanes 0..n-1 of its ACC rows only; ADD is
      :func:`eltwise_add_int8`, MAX :func:`eltwise_max`, MAC :func:`eltwise_mac_int8` (INT8)
      and :func:`eltwise_mac_fp16` (FP16); a MAC with ``init_row`` starts every row from
      lanes 0..n-1 of ACC row ``init_addr`` as if it were the row's value with ``accumulate``.
    - A LOAD writes its rows in order r = 0 .. rows-1 to ``local_rows_written`` (the later row
      wins where a placement overlaps); a fill LOAD reads no memory and never fails.
    - The sequence number in ERROR is the value ISSUED had before the command was pushed; a
      LIST of count c takes c + 1 numbers (itself, then its entries), see ``LIST`` in
      :mod:`dure.rtl.npu.commands`. :meth:`execute` runs a LIST's entries at once, in order,
      reading each entry from main memory just before it runs.
    - ``BUS_ERROR``: the model treats main memory as the regions it was built with; a LOAD or
      STORE touching an unbacked byte returns ``BUS_ERROR``. The hardware stops at the failing
      access, so the destination of such a command is unspecified; the model leaves it unchanged.
"""

import numpy as np
from dure.rtl.npu.commands import (
    DESCRIPTOR_WORDS,
    KEEP_BASE6_FORMAT,
    ElemType,
    EltwiseOp,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    RequantMode,
    WeightFormat,
    elem_bytes,
    load_source,
    out_bytes,
    read_bytes,
)
from dure.rtl.npu.descriptor import FIELDS, encode

from . import golden
from .npu_model_eltwise import (
    ADD_LEFT_SHIFT,
    eltwise_add_int8,
    eltwise_mac_fp16,
    eltwise_mac_int8,
    eltwise_max,
)
from .npu_model_memory import RegionMemory
from .npu_model_perf import macs_per_row, perf_macs
from .npu_model_weights import tagged_rows, tagged_rows_base6, unpack_rows
from .npu_validate import a_rows_read, check, local_rows_written
from .postproc_ref import postprocess

__all__ = ["NpuModel", "RegionMemory", "encode", "Opcode", "ErrorCode", "eltwise_add_int8",
           "eltwise_max", "eltwise_mac_int8", "eltwise_mac_fp16",
           "ADD_LEFT_SHIFT", "perf_macs"]


_DTYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32}


class NpuModel:
    """Architectural state of one NPU and the effect of each command.

    Parameters
    ----------
    config : SoCConfig
        Variant with an NPU (``npu_rows > 0``).
    memory : dict of {int: bytes-like} or memory object, optional
        Main memory as ``{base address: contents}`` (a :class:`RegionMemory` is made of it), or
        any object with ``contains`` / ``read`` / ``write`` as :class:`RegionMemory` has. By
        default the variant's ``main`` and ``ram`` regions, zero-filled.

    Attributes
    ----------
    spad : numpy.ndarray
        uint16, (``npu_spad_rows``, ``npu_lanes``): one 16-bit pattern per lane.
    acc : numpy.ndarray
        uint32, (``npu_acc_rows``, ``npu_cols``): one 32-bit pattern per lane.
    memory : RegionMemory or compatible
        Main memory as the DMA sees it.
    dma_base, dma_size : int
        The DMA window registers (reset: 0, 0 = empty window).
    error : tuple of (ErrorCode, int) or None
        Code and sequence number of the first refused (or bus-failed) command since
        :meth:`clear_error`; None when STATUS.error is clear.
    error_index : int or None
        ERROR_INDEX with :attr:`error`: the failed command's index within its LIST, None when
        it was not a LIST entry (the register reads 0xFFFF_FFFF).
    list_codes : list of ErrorCode
        The codes of the entries of the last LIST :meth:`execute` ran (a fetch failure ends it
        with ``BUS_ERROR``; entries after that are not listed).
    dma_rd, dma_wr : int
        Bytes moved by executed LOADs / STOREs (PERF_DMA_RD / PERF_DMA_WR; list fetches are not
        counted). A LOAD counts the bus words it reads, 4 bytes each, consecutive rows sharing
        a word reading it once (:func:`~dure.rtl.npu.commands.read_bytes`), as the hardware.
    fence_irq : bool
        STATUS.fence_irq: a FENCE with ``irq`` completed since :meth:`clear_fence_irq`.
    issued, done : int
        Commands pushed / finished since reset.
    macs : int
        ``m * k * n`` (``m * min(k, n)`` with ``diagonal``, ``m * k`` with ``gather``) summed
        over executed COMPUTE
        commands, plus ``m * n`` (``2 m n`` with ``pair``) per executed ELTWISE MAC
        (PERF_MACS: the products that take part).
    """

    def __init__(self, config, memory=None):
        if not config.npu_rows:
            raise ValueError(f"variant {config.name!r} has no NPU (npu_rows = 0)")
        self.config = config
        if memory is None:
            memory = {config.region(name).base: bytes(config.region(name).size)
                      for name in ("main", "ram")}
        self.memory = memory if hasattr(memory, "contains") else RegionMemory(memory)
        self.spad = np.zeros((config.npu_spad_rows, config.npu_lanes), np.uint16)
        self.acc = np.zeros((config.npu_acc_rows, config.npu_cols), np.uint32)
        self.dma_base = 0
        self.dma_size = 0
        self.error = None
        self.error_index = None
        self.list_codes = []
        self.fence_irq = False
        self.issued = 0
        self.done = 0
        self.macs = 0
        self.dma_rd = 0
        self.dma_wr = 0

    # --- registers ------------------------------------------------------------------------

    def set_window(self, base, size):
        """Write the DMA_BASE / DMA_SIZE registers."""
        if not 0 <= base < 1 << 32 or not 0 <= size < 1 << 32:
            raise ValueError("DMA_BASE and DMA_SIZE are 32-bit register values")
        self.dma_base, self.dma_size = int(base), int(size)

    def clear_error(self):
        """Write 1 to STATUS.error."""
        self.error = None
        self.error_index = None

    def clear_fence_irq(self):
        """Write 1 to STATUS.fence_irq."""
        self.fence_irq = False

    # --- main memory ----------------------------------------------------------------------

    def write(self, addr, data):
        """Write bytes (or a numpy array's raw bytes) at byte address ``addr``."""
        self.memory.write(addr, data.tobytes() if isinstance(data, np.ndarray) else bytes(data))

    def read(self, addr, length):
        """``length`` bytes from byte address ``addr``."""
        return self.memory.read(addr, length)

    def place(self, addr, matrix, stride=None):
        """Write a 2-D numpy ``matrix`` row by row (rows ``stride`` bytes apart; default dense).

        Returns the stride used."""
        matrix = np.asarray(matrix)
        if matrix.ndim == 1:
            matrix = matrix[np.newaxis, :]
        row_bytes = matrix.shape[1] * matrix.itemsize
        stride = row_bytes if stride is None else stride
        if stride < row_bytes:
            raise ValueError(f"stride {stride} is shorter than a row ({row_bytes} bytes)")
        for r in range(matrix.shape[0]):
            self.write(addr + r * stride, np.ascontiguousarray(matrix[r]))
        return stride

    def fetch(self, addr, shape, dtype, stride=None):
        """A 2-D array of ``dtype`` and ``shape`` read row by row (rows ``stride`` bytes apart)."""
        dtype = np.dtype(dtype)
        rows, cols = shape
        stride = cols * dtype.itemsize if stride is None else stride
        out = np.zeros(shape, dtype)
        for r in range(rows):
            out[r] = np.frombuffer(self.read(addr + r * stride, cols * dtype.itemsize), dtype)
        return out

    # --- commands -------------------------------------------------------------------------

    def execute(self, words):
        """Validate one pushed descriptor (8 words) and, if accepted, apply it; returns its
        ErrorCode.

        A refused command (or one failing with ``BUS_ERROR``) records the first error in
        :attr:`error` and changes no memory, SPAD or ACC. A LIST returns its own code; its
        entries' codes are in :attr:`list_codes`."""
        code, opcode, fields = check(words, self.config, self.dma_base, self.dma_size)
        seq = self.issued
        if opcode == Opcode.LIST:
            return self._list(code, int(words[2]) & 0xFFFF, fields, seq)
        self.issued += 1
        code = self._execute_checked(code, opcode, fields)
        self._finish(code, seq, None)
        return code

    def _execute_checked(self, code, opcode, fields):
        return self.apply(opcode, fields) if code == ErrorCode.NONE else code

    def _finish(self, code, seq, index, retired=1):
        if code != ErrorCode.NONE and self.error is None:
            self.error = (code, seq)
            self.error_index = index
        self.done += retired

    def _list(self, code, count, fields, seq):
        """A pushed LIST: ``count`` is word 2 bits 15:0 (its sequence numbers, valid or not)."""
        self.issued += 1 + count
        self.list_codes = []
        if code != ErrorCode.NONE:
            self._finish(code, seq, None, retired=1 + count)
            return code
        self.done += 1
        for i in range(count):
            addr = fields["list_addr"] + 4 * DESCRIPTOR_WORDS * i
            if not self.memory.contains(addr, 4 * DESCRIPTOR_WORDS):
                self.list_codes.append(ErrorCode.BUS_ERROR)
                self._finish(ErrorCode.BUS_ERROR, seq + 1 + i, i, retired=count - i)
                break
            entry = [int(w) for w in np.frombuffer(self.read(addr, 4 * DESCRIPTOR_WORDS),
                                                   "<u4")]
            e_code, e_opcode, e_fields = check(entry, self.config, self.dma_base,
                                               self.dma_size, in_list=True)
            e_code = self._execute_checked(e_code, e_opcode, e_fields)
            self.list_codes.append(e_code)
            self._finish(e_code, seq + 1 + i, i)
        return ErrorCode.NONE

    def run(self, descriptors):
        """Execute descriptors in order; returns their ErrorCodes."""
        return [self.execute(words) for words in descriptors]

    def apply(self, opcode, fields):
        """Apply an already validated command (``fields`` as :func:`~.descriptor.decode` gives;
        enum members accepted, missing fields are 0); returns ``NONE`` or ``BUS_ERROR``. No
        validation here."""
        opcode = Opcode(opcode)
        if opcode == Opcode.LIST:
            raise ValueError("a LIST is run by execute (it reads its entries from memory)")
        given = {name: int(getattr(v, "value", v)) for name, v in fields.items()}
        unknown = set(given) - set(FIELDS[opcode])
        if unknown:
            raise KeyError(f"{opcode.name} has no field(s) {', '.join(sorted(unknown))}")
        fields = {name: given.get(name, 0) for name in FIELDS[opcode]}
        if opcode == Opcode.LOAD:
            return self._load(fields)
        if opcode == Opcode.COMPUTE:
            self._compute(fields)
        elif opcode == Opcode.STORE:
            return self._store(fields)
        elif opcode == Opcode.ELTWISE:
            self._eltwise(fields)
        elif fields.get("irq"):
            self.fence_irq = True
        return ErrorCode.NONE

    def _rows_backed(self, first, stride, rows, row_bytes):
        return all(self.memory.contains(first + r * stride, row_bytes) for r in range(rows))

    def _load(self, f):
        eb = elem_bytes(f["elem"])
        rows, cols, stride = f["rows"], f["cols"], f["dram_stride"]
        if f["fill"]:
            value = f["fill_value"]
            if f["elem"] == ElemType.INT8.value:
                value = (value & 0xFF) | (0xFF00 if value & 0x80 else 0)
            elif f["elem"] == ElemType.FP16.value:
                value &= 0xFFFF
            src = np.full((1, cols), value, _DTYPES[eb if eb != 1 else 2])
        elif f["weight_format"] != WeightFormat.DENSE.value:
            src_rows, nbytes = load_source(rows, cols, f["weight_format"], f["elem"],
                                           f["keep"])
            scaled = f["weight_format"] == WeightFormat.INT4_FP16.value
            if not self._rows_backed(f["dram_addr"], stride, src_rows, nbytes) or (
                    scaled and not self._rows_backed(f["scale_addr"], 0, 1, 2 * cols)):
                return ErrorCode.BUS_ERROR
            raw = np.stack([np.frombuffer(self.read(f["dram_addr"] + r * stride, nbytes),
                                          np.uint8) for r in range(src_rows)])
            scales = np.frombuffer(self.read(f["scale_addr"], 2 * cols), np.uint16) \
                if scaled else None
            self.dma_rd += read_bytes(f["dram_addr"], stride, src_rows, nbytes) + (
                read_bytes(f["scale_addr"], 0, 1, 2 * cols) if scaled else 0)
            if f["keep"] and f["weight_format"] == KEEP_BASE6_FORMAT.value:
                src = tagged_rows_base6(raw, rows, cols)
            elif f["keep"]:
                src = tagged_rows(f["weight_format"], raw, rows, cols)
            else:
                src = unpack_rows(f["weight_format"], raw, rows, cols, scales)
        else:
            src_rows = 1 if f["broadcast"] else rows
            if not self._rows_backed(f["dram_addr"], stride, src_rows, cols * eb):
                return ErrorCode.BUS_ERROR
            src = np.zeros((src_rows, cols), _DTYPES[eb])
            for r in range(src_rows):
                raw = self.read(f["dram_addr"] + r * stride, cols * eb)
                src[r] = np.frombuffer(raw, _DTYPES[eb])
            self.dma_rd += read_bytes(f["dram_addr"], stride, src_rows, cols * eb)
            if f["elem"] == ElemType.INT8.value:
                src = src.view(np.int8).astype(np.int16).view(np.uint16)
        to_acc = f["target"] == LoadTarget.ACC.value
        target = self.acc if to_acc else self.spad
        block = np.zeros((rows, target.shape[1]), target.dtype)
        block[:, :cols] = src            # broadcasts the one source row when src has one row
        dest = local_rows_written(f)
        if len(set(dest)) == len(dest):
            target[dest] = block
        else:                            # overlapping placement: rows in order, the later wins
            for r, row in enumerate(dest):
                target[row] = block[r]
        return ErrorCode.NONE

    def _compute(self, f):
        m, k, n = f["m"], f["k"], f["n"]
        a = self.spad[a_rows_read(f), :k]
        w = self.spad[f["w_addr"]:f["w_addr"] + k, :n]
        out = self.acc[f["acc_addr"]:f["acc_addr"] + m, :n]
        # the starting values: the rows themselves (accumulate), one ACC row for every row
        # (init_row: a bias row), or zero
        start = np.repeat(self.acc[f["init_addr"]:f["init_addr"] + 1, :n], m, axis=0) \
            if f.get("init_row") else out.copy() if f["accumulate"] else None
        diagonal = bool(f["diagonal"])
        if f["precision"] == Precision.INT8.value:
            a8 = (a & 0xFF).astype(np.uint8).view(np.int8)
            w8 = (w & 0xFF).astype(np.uint8).view(np.int8)
            if diagonal:     # a product that does not take part adds exactly 0 in int32
                w8 = w8 * np.eye(k, n, dtype=np.int8)
            if f["gather"]:  # column j takes lane i of row m only when its tag is j
                tag = (a >> 8) & 3
                res = np.zeros((m, n), np.int64)
                for j in range(n):
                    res[:, j] = golden.gemm_int8(np.where(tag == j, a8, 0).astype(np.int8),
                                                 w8[:, j:j + 1])[:, 0]
            else:
                res = golden.gemm_int8(a8, w8).astype(np.int64)
            if start is not None:
                res += start.view(np.int32)
            out[:] = (res & 0xFFFF_FFFF).astype(np.uint32)
        else:
            a16, w16 = a.copy().view(np.float16), w.copy().view(np.float16)
            init = start.view(np.float32) if start is not None else \
                np.zeros((m, n), np.float32)
            if diagonal:     # column j: one term A[:, j] * W[j, j] if j < k, else none at all
                res = np.empty((m, n), np.float32)
                for j in range(n):
                    terms = 1 if j < k else 0
                    res[:, j:j + 1] = golden.gemm_fp16(
                        a16[:, j:j + terms], w16[j:j + terms, j:j + 1], init=init[:, j:j + 1])
            else:
                res = golden.gemm_fp16(a16, w16, init=init)
            out[:] = res.view(np.uint32)
        self.macs += m * macs_per_row(f)

    def _eltwise(self, f):
        rows = a_rows_read(f)
        n = f["n"]
        a = self.spad[rows, :n]
        out = self.acc[f["acc_addr"]:f["acc_addr"] + f["m"], :n]
        int8 = f["precision"] == Precision.INT8.value
        a = (a & 0xFF).astype(np.uint8).view(np.int8) if int8 else a.copy().view(np.float16)
        if f["mac"]:
            def lane_rows(r):
                if not int8:
                    return self.spad[r, :n].copy().view(np.float16)
                return (self.spad[r, :n] & 0xFF).astype(np.uint8).view(np.int8)
            w = lane_rows(f["b_addr"])
            x2 = w2 = None
            if f["pair"]:
                x2 = lane_rows([r + f["tap_step"] for r in rows])
                w2 = lane_rows(f["b_addr"] + 1)
            if f["reduce"]:
                out = self.acc[f["acc_addr"]:f["acc_addr"] + 1, :n]
            start, accumulate = out, f["accumulate"]
            if f["init_row"]:               # every row starts from ACC row init_addr
                start = np.broadcast_to(self.acc[f["init_addr"], :n], out.shape).copy()
                accumulate = 1
            if int8:
                out[:] = eltwise_mac_int8(start, a, w, accumulate, f["reduce"], x2, w2)
            else:
                out[:] = eltwise_mac_fp16(start, a, w, accumulate, x2, w2)
            self.macs += f["m"] * n * (2 if f["pair"] else 1)
        elif f["op"] == EltwiseOp.ADD.value:
            b_rows = [f["b_addr"] + r - f["a_addr"] for r in rows]
            b = (self.spad[b_rows, :n] & 0xFF).astype(np.uint8).view(np.int8)
            res = eltwise_add_int8(a, b, f["zp_a"], f["zp_b"], f["mult_a"], f["mult_b"],
                                   f["rshift_a"], f["rshift_b"])
            out[:] = res.view(np.uint32)
        else:
            out[:] = eltwise_max(out, a, f["precision"], f["accumulate"])

    def _store(self, f):
        ob = out_bytes(f["out"])
        rows, cols, stride = f["rows"], f["cols"], f["dram_stride"]
        if not self._rows_backed(f["dram_addr"], stride, rows, cols * ob):
            return ErrorCode.BUS_ERROR
        block = self.acc[f["acc_addr"]:f["acc_addr"] + rows, :cols]
        if f["lane_sum"]:    # lanes 0..3 summed as int32 (wrapping) into the one column
            block = (self.acc[f["acc_addr"]:f["acc_addr"] + rows, :4].astype(np.int64)
                     .sum(axis=1, keepdims=True) & 0xFFFF_FFFF).astype(np.uint32)
        requant = RequantMode(f["requant"])
        if f["lane_scales"]:
            # One column of channels: row r's parameters are lane r % C of group r // C, so
            # the rows are processed as the lanes of one row with those parameters.
            c, p = self.config.npu_cols, 1 if requant == RequantMode.FLOAT_SCALE else 2
            r = np.arange(rows)
            scale = self.acc[f["scale_addr"] + p * (r // c), r % c]
            shift = self.acc[f["scale_addr"] + p * (r // c) + 1, r % c] if p == 2 else None
            block = block.T
        else:
            scale = self.acc[f["scale_addr"], :cols] if f["scale"] else \
                np.zeros(cols, np.uint32)
            shift = self.acc[f["scale_addr"] + 1, :cols] \
                if requant != RequantMode.FLOAT_SCALE else None
        words = postprocess(block, scale, acc_type=Precision(f["acc_type"]),
                            out=OutType(f["out"]), scale_en=f["scale"], clamp_en=f["clamp"],
                            zero_point=f["zero_point"], lo=f["lo"], hi=f["hi"],
                            requant=requant, shift=shift)
        if f["lane_scales"]:
            words = words.T
        data = words.astype(_DTYPES[ob])
        for r in range(rows):
            self.write(f["dram_addr"] + r * stride, data[r])
        self.dma_wr += rows * cols * ob
        return ErrorCode.NONE
