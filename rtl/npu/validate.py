"""Command validator: the :class:`~.commands.ErrorCode` of a descriptor, as a short pipeline.

The checks are the Validation section of :mod:`.commands`; the reference is
:func:`dure.sim.npu_validate.validate` (whose module docstring lists how the ambiguous cases of
the prose are read; this block gives the same code for every descriptor).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .commands import (
    DESCRIPTOR_WORDS,
    KEEP_BASE6_FORMAT,
    EltwiseOp,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    RequantMode,
    WeightFormat,
)
from .descriptor import (
    DESCRIPTOR_LAYOUT,
    ENTRY_TAG_LAYOUT,
    command_layout,
    reserved_masks,
    unpack_fields,
)
from .isa import Dataflow, Precision

__all__ = ["Validator"]

#: Checks made on the descriptor alone, in ErrorCode order (DMA_WINDOW needs the window).
_FIELD_CHECKS = [ErrorCode.RESERVED, ErrorCode.ZERO_DIM, ErrorCode.DIM_TOO_LARGE,
                 ErrorCode.BAD_COMBINATION, ErrorCode.MISALIGNED, ErrorCode.STRIDE,
                 ErrorCode.LOCAL_RANGE]


def _overlaps_any(words, masks):
    return Cat(*[(word & mask).any() for word, mask in zip(words, masks, strict=True)]).any()


def _low_mask(lsz):
    """Bits below an element size of ``2 ** lsz`` bytes (lsz 0..2)."""
    return Mux(lsz == 0, 0, Mux(lsz == 1, 1, 3))


def _fp_nan(bits):
    return (bits[23:31] == 0xFF) & bits[:23].any()


def _fp_le(lo, hi):
    """lo <= hi for two non-NaN fp32 bit patterns (-0 == +0)."""
    lo_mag, hi_mag = lo[:31], hi[:31]
    both_zero = (lo_mag == 0) & (hi_mag == 0)
    return Mux(lo[31],
               Mux(hi[31], lo_mag >= hi_mag, 1),
               Mux(hi[31], both_zero, lo_mag <= hi_mag))


def _products(opcode, f):
    """The multiplications of ``opcode``'s field checks, from its decoded fields ``f``: they
    are registered a stage before the checks that use them (a MULT18X18D followed by the sums,
    compares and the priority of the checks does not fit one cycle at 50 MHz on the ECP5)."""
    if opcode == Opcode.LOAD:
        return {"span": (f.local_groups - 1) * f.local_row_step,
                "count": f.local_groups * f.local_cols}
    # COMPUTE and ELTWISE: a walk of a_rows x a_cols rows with two steps.
    return {"rows": (f.a_rows - 1) * f.a_row_step, "cols": (f.a_cols - 1) * f.a_col_step,
            "count": f.a_rows * f.a_cols}


def _load_source_rows_m1(f, gather):
    """Source rows - 1 of a LOAD (its decoded fields ``f``) for the footprint product: 0 for a
    broadcast, one source row per 4 destination rows in the 2:4 and row-scaled formats, and
    (``gather``: the NPU has ``npu_gather``) one per 3 in keep + SPARSE24_INT4 (shared base-6
    codes; rows / 3 as (rows * 43691) >> 17, exact below 2^16)."""
    wf = f.weight_format
    sparse = ((wf == WeightFormat.SPARSE24.value) | (wf == WeightFormat.SPARSE24_INT4.value)
              | (wf == WeightFormat.INT4_FP16_ROWS.value))
    dense_or_4 = Mux(sparse, (f.rows >> 2) - 1, f.rows - 1)
    if gather:
        base6 = f.keep & (wf == KEEP_BASE6_FORMAT.value)
        dense_or_4 = Mux(base6, ((f.rows * 43691) >> 17) - 1, dense_or_4)
    return Mux(f.broadcast, 0, dense_or_4)[:16]


#: Opcodes whose field checks use :func:`_products`.
_PRODUCT_OPCODES = (Opcode.LOAD, Opcode.COMPUTE, Opcode.ELTWISE)


class Validator(wiring.Component):
    """Checks descriptors against the array shape and the DMA window.

    A pipeline that advances on every cycle with ``en`` set; one descriptor may enter per
    enabled cycle.

    Parameters
    ----------
    config : SoCConfig
        Array shape (``npu_rows``, ``npu_cols``), ``npu_fp16``, ``npu_float_post``,
        ``npu_eltwise``, ``npu_eltwise_fp16_mac``, ``npu_gather``, SPAD / ACC depths.

    Members
    -------
    en : In(1)
        Clock enable of the whole pipeline (stall when 0; nothing is lost).
    i_valid : In(1)
        ``i_words`` holds a descriptor this cycle.
    i_words : In(DESCRIPTOR_LAYOUT)
        The descriptor.
    i_tag : In(ENTRY_TAG_LAYOUT)
        Where the descriptor comes from (:data:`~.descriptor.ENTRY_TAG_LAYOUT`); only
        ``in_list`` is read (a LIST entry that is a LIST gets ``BAD_COMBINATION``), the whole
        tag comes out as ``o_tag``.
    dma_base, dma_size : In(32)
        The DMA window registers, sampled with the descriptor.
    o_valid : Out(1)
        ``o_words`` / ``o_code`` hold a checked descriptor.
    o_words : Out(DESCRIPTOR_LAYOUT)
        The descriptor, unchanged.
    o_tag : Out(ENTRY_TAG_LAYOUT)
        Its tag, unchanged.
    o_code : Out(ErrorCode)
        ``NONE`` or the first failing check in :class:`ErrorCode` order.
    occupied : Out(1)
        Some stage (or the output) holds a descriptor.

    Latency
    -------
    4 enabled cycles from input to output: input register; the products (the footprint's
    ``(rows - 1) * stride`` and the 16 x 16-bit products of the walk and placement checks,
    ``a_rows * a_cols == m`` and the largest row of a walk or a placement); the field checks;
    the footprint sum and the window compare.
    """

    LATENCY = 4

    def __init__(self, config):
        if not config.npu_rows:
            raise ValueError(f"variant {config.name!r} has no NPU (npu_rows = 0)")
        self._config = config
        super().__init__({
            "en": In(1),
            "i_valid": In(1),
            "i_words": In(DESCRIPTOR_LAYOUT),
            "i_tag": In(ENTRY_TAG_LAYOUT),
            "dma_base": In(32),
            "dma_size": In(32),
            "o_valid": Out(1),
            "o_words": Out(DESCRIPTOR_LAYOUT),
            "o_tag": Out(ENTRY_TAG_LAYOUT),
            "o_code": Out(ErrorCode),
            "occupied": Out(1),
        })

    def _load_checks(self, m, w, p):
        cfg = self._config
        f = Signal(command_layout(Opcode.LOAD))
        m.d.comb += unpack_fields(Opcode.LOAD, w, f)
        to_spad = f.target == LoadTarget.SPAD.value
        lsz = Mux(f.elem == 2, 2, f.elem[0])    # log2 element bytes (elem 0, 1, 2)
        depth = Mux(to_spad, cfg.npu_spad_rows, cfg.npu_acc_rows)
        placed = f.local_cols != 0
        # Largest destination row, exact (16 + 32 bits + 16: no overflow).
        last = Mux(placed, f.local_addr + p["span"] + f.local_cols - 1,
                   f.local_addr + f.rows - 1)
        fill = f.fill
        # Weight formats: source rows and bytes (load_cmd.load_source), the legal elem.
        wf = f.weight_format
        packed = wf != WeightFormat.DENSE.value
        scaled = wf == WeightFormat.INT4_FP16.value
        rows4 = wf == WeightFormat.INT4_FP16_ROWS.value
        fp16w = scaled | rows4
        sparse = (wf == WeightFormat.SPARSE24.value) | (wf == WeightFormat.SPARSE24_INT4.value) \
            | rows4                     # one source row per 4 destination rows
        lane8 = wf == WeightFormat.SPARSE24_LANES.value
        lanes24 = lane8 | (wf == WeightFormat.SPARSE24_INT4_LANES.value)
        half = (f.cols + 1) >> 1
        # keep (tagged lanes): cols kept lanes are the source row of 2 cols dense lanes
        groups = Mux(f.keep, f.cols >> 1, f.cols >> 2)
        lane_bytes = Mux(lane8, groups << 1, groups) + ((groups + 1) >> 1)
        src_bytes = Mux(packed, Mux(wf == WeightFormat.SPARSE24.value, (f.cols << 1) + half,
                                    Mux(wf == WeightFormat.SPARSE24_INT4.value, (half << 1) + half,
                                        Mux(lanes24, lane_bytes,
                                            Mux(rows4, 2 + (half << 2), half)))),
                        f.cols << lsz)
        rows4_bad = sparse & f.rows[:2].any()
        keep_bad = f.keep & (~lanes24 | f.cols[0] | (not cfg.npu_gather))
        if cfg.npu_gather:
            # keep + SPARSE24_INT4: 3 destination rows per source row of 2 cols bytes (shared
            # base-6 codes); rows / 3 as (rows * 43691) >> 17, exact below 2^16.
            base6 = f.keep & (wf == KEEP_BASE6_FORMAT.value)
            third = Signal(16)
            m.d.comb += third.eq((f.rows * 43691) >> 17)
            rows4_bad = rows4_bad & ~base6
            keep_bad = f.keep & ((~lanes24 & ~base6) | f.cols[0]
                                 | (base6 & (f.rows != third * 3)))
            src_bytes = Mux(base6, f.cols << 1, src_bytes)
        packed_bad = packed & (~to_spad | fill | f.broadcast | rows4_bad
                               | lanes24 & Mux(f.keep, f.cols[0], f.cols[:2].any())
                               | (f.elem != Mux(fp16w, 1, 0))
                               | (fp16w & (not cfg.npu_fp16)))
        checks = {
            ErrorCode.RESERVED: _overlaps_any(w, reserved_masks(Opcode.LOAD))
            | f.target[1] | (f.elem == 3)
            | (~placed & ((f.local_groups != 0) | (f.local_row_step != 0)))
            | Mux(fill, (f.dram_addr != 0) | (f.dram_stride != 0) | f.broadcast,
                  (f.fill_value != 0) & ~scaled),
            ErrorCode.ZERO_DIM: (f.rows == 0) | (f.cols == 0) | (placed & (f.local_groups == 0)),
            ErrorCode.DIM_TOO_LARGE: f.cols > Mux(to_spad, cfg.npu_lanes, cfg.npu_cols),
            ErrorCode.BAD_COMBINATION: Mux(to_spad, f.elem == 2, f.elem != 2)
            | (placed & (f.rows != p["count"])) | packed_bad
            | keep_bad,
            ErrorCode.MISALIGNED: ~fill & Mux(packed, scaled & f.scale_addr[0],
                                              (f.dram_addr & _low_mask(lsz)).any()
                                              | (~f.broadcast & (f.dram_stride
                                                                 & _low_mask(lsz)).any())),
            ErrorCode.STRIDE: ~fill & ~f.broadcast & (f.dram_stride < src_bytes),
            ErrorCode.LOCAL_RANGE: last >= depth,
        }
        scale = (scaled & ~fill, f.scale_addr, f.scale_addr + (f.cols << 1))
        return checks, src_bytes, fill, scale

    def _compute_checks(self, m, w, p):
        cfg = self._config
        f = Signal(command_layout(Opcode.COMPUTE))
        m.d.comb += unpack_fields(Opcode.COMPUTE, w, f)
        fp16 = f.precision == Precision.FP16.value
        spad, acc = cfg.npu_spad_rows, cfg.npu_acc_rows
        walk = f.a_cols != 0
        # Largest SPAD row of A, exact (16 + 32 + 32 bits: no overflow).
        a_last = Mux(walk, f.a_addr + p["rows"] + p["cols"], f.a_addr + f.m - 1)
        return {
            ErrorCode.RESERVED: _overlaps_any(w, reserved_masks(Opcode.COMPUTE))
            | (~walk & ((f.a_rows != 0) | (f.a_col_step != 0) | (f.a_row_step != 0)))
            | (~f.init_row & (f.init_addr != 0)),
            ErrorCode.ZERO_DIM: (f.m == 0) | (f.k == 0) | (f.n == 0) | (walk & (f.a_rows == 0)),
            ErrorCode.DIM_TOO_LARGE: (f.k > cfg.npu_rows) | (f.n > cfg.npu_cols),
            ErrorCode.BAD_COMBINATION: (f.dataflow == Dataflow.OS.value)
            | (fp16 & (not cfg.npu_fp16)) | (walk & (f.m != p["count"]))
            | (f.gather & (fp16 | f.diagonal | f.init_row | (not cfg.npu_gather)))
            | (f.init_row & (f.accumulate | ((f.init_addr >= f.acc_addr)
                                             & (f.init_addr < f.acc_addr + f.m)))),
            ErrorCode.LOCAL_RANGE: (a_last >= spad) | ((f.w_addr + f.k) > spad)
            | ((f.acc_addr + f.m) > acc) | (f.init_row & (f.init_addr >= acc)),
        }

    def _eltwise_checks(self, m, w, p):
        cfg = self._config
        f = Signal(command_layout(Opcode.ELTWISE))
        m.d.comb += unpack_fields(Opcode.ELTWISE, w, f)
        fp16 = f.precision == Precision.FP16.value
        add = f.op == EltwiseOp.ADD.value
        walk = f.a_cols != 0
        pair_mac = f.mac & f.pair            # w2 [15:0] is tap_step, not mult_a
        init_mac = f.mac & f.init_row        # w7 [15:0] is init_addr, not mult_b
        add_only = (Cat(f.zp_a, f.zp_b, f.mult_a[16:], f.mult_b[16:], f.rshift_a,
                        f.rshift_b).any()
                    | ((f.mult_a[:16] != 0) & ~pair_mac) | ((f.mult_b[:16] != 0) & ~init_mac))
        checks = {
            ErrorCode.RESERVED: _overlaps_any(w, reserved_masks(Opcode.ELTWISE))
            | (~walk & ((f.a_rows != 0) | (f.a_col_step != 0) | (f.a_row_step != 0)))
            | ((f.reduce | f.pair | f.init_row) & ~f.mac)
            | Mux(add, f.accumulate | f.mac, add_only | ((f.b_addr != 0) & ~f.mac)),
            ErrorCode.ZERO_DIM: (f.m == 0) | (f.n == 0) | (walk & (f.a_rows == 0)),
            ErrorCode.DIM_TOO_LARGE: f.n > cfg.npu_cols,
        }
        if not cfg.npu_eltwise:
            # No unit: every ELTWISE that passes the checks above is BAD_COMBINATION, so the
            # later checks (and their products) are not built.
            return {**checks, ErrorCode.BAD_COMBINATION: Const(1)}
        span = Mux(walk, p["rows"] + p["cols"], f.m - 1)    # a_last - a_addr, exact
        written = f.acc_addr + Mux(f.reduce, 1, f.m)        # end of the ACC rows written
        return {
            **checks,
            ErrorCode.BAD_COMBINATION: (fp16 & (not cfg.npu_fp16))
            | (fp16 & (add | (f.mac & (f.reduce | (not cfg.npu_eltwise_fp16_mac)))))
            | (walk & (f.m != p["count"]))
            | (init_mac & (f.accumulate | ((f.init_addr >= f.acc_addr)
                                          & (f.init_addr < written)))),
            ErrorCode.LOCAL_RANGE:
            ((f.a_addr + span + Mux(pair_mac, f.tap_step, 0)) >= cfg.npu_spad_rows)
            | (add & ((f.b_addr + span) >= cfg.npu_spad_rows))
            | (f.mac & ((f.b_addr + f.pair) >= cfg.npu_spad_rows))
            | (written > cfg.npu_acc_rows) | (init_mac & (f.init_addr >= cfg.npu_acc_rows)),
        }

    def _store_checks(self, m, w):
        cfg = self._config
        f = Signal(command_layout(Opcode.STORE))
        m.d.comb += unpack_fields(Opcode.STORE, w, f)
        out_int8 = f.out == OutType.INT8.value
        out_int32 = f.out == OutType.INT32.value
        out_fp16 = f.out == OutType.FP16.value
        out_fp32 = f.out == OutType.FP32.value
        acc_fp16 = f.acc_type == Precision.FP16.value
        bounds_read = out_int8 | (~out_int32 & f.clamp)
        lsz = Mux(out_int8, 0, Mux(out_fp16, 1, 2))
        lo, hi = f.lo.as_signed(), f.hi.as_signed()
        tflite = f.requant != RequantMode.FLOAT_SCALE.value
        # Last ACC row of the per-column parameters; with lane_scales one group (1 row, or 2
        # in a TFLite mode) per npu_cols output rows.
        groups_m1 = Mux(f.lane_scales, (f.rows - 1) // cfg.npu_cols, 0)
        scale_last = f.scale_addr + Mux(tflite, (groups_m1 << 1) + 1, groups_m1)
        int8_bounds_bad = (lo < -128) | (hi > 127) | (lo > hi)
        fp_bounds_bad = _fp_nan(f.lo) | _fp_nan(f.hi) | ~_fp_le(f.lo, f.hi)
        # (acc_type, out) pairs of the table and their scale rule.
        pair_ok = Mux(acc_fp16, out_fp16 | out_fp32, ~out_fp32)
        scale_bad = Mux(acc_fp16, 0, Mux(out_int32, f.scale, ~f.scale))
        # Without the fp32 post-processing only TFLite requantization and raw INT32 remain.
        float_only = ~acc_fp16 & (out_fp16 | (out_int8 & ~tflite))
        combination = (~pair_ok | scale_bad | (acc_fp16 & (not cfg.npu_fp16))
                       | (float_only & (not cfg.npu_float_post))
                       | (out_int32 & f.clamp) | (tflite & (acc_fp16 | ~out_int8))
                       | (f.lane_scales & (~f.scale | (f.cols != 1)))
                       | (f.lane_sum & (acc_fp16 | (f.cols != 1) | (not cfg.npu_gather)))
                       | Mux(out_int8, int8_bounds_bad, f.clamp & fp_bounds_bad))
        checks = {
            ErrorCode.RESERVED: _overlaps_any(w, reserved_masks(Opcode.STORE))
            | (~bounds_read & (f.lo.any() | f.hi.any()))
            | (~out_int8 & (f.zero_point != 0)) | (f.requant == 3),
            ErrorCode.ZERO_DIM: (f.rows == 0) | (f.cols == 0),
            ErrorCode.DIM_TOO_LARGE: f.cols > cfg.npu_cols,
            ErrorCode.BAD_COMBINATION: combination,
            ErrorCode.MISALIGNED: ((f.dram_addr | f.dram_stride) & _low_mask(lsz)).any(),
            ErrorCode.STRIDE: f.dram_stride < (f.cols << lsz),
            ErrorCode.LOCAL_RANGE: ((f.acc_addr + f.rows) > cfg.npu_acc_rows)
            | (f.scale & (scale_last >= cfg.npu_acc_rows)),
        }
        return checks, lsz

    def _list_checks(self, m, w, in_list):
        f = Signal(command_layout(Opcode.LIST))
        m.d.comb += unpack_fields(Opcode.LIST, w, f)
        return {
            ErrorCode.RESERVED: _overlaps_any(w, reserved_masks(Opcode.LIST)),
            ErrorCode.ZERO_DIM: f.count == 0,
            ErrorCode.BAD_COMBINATION: in_list,
            ErrorCode.MISALIGNED: f.list_addr[:2].any(),
        }

    def elaborate(self, platform):
        m = Module()
        en = self.en

        # Stage 0: input register.
        s0_valid = Signal()
        s0_words = Signal(DESCRIPTOR_LAYOUT)
        s0_tag = Signal(ENTRY_TAG_LAYOUT)
        s0_base = Signal(32)
        s0_size = Signal(32)
        with m.If(en):
            m.d.sync += [s0_valid.eq(self.i_valid), s0_words.eq(self.i_words),
                         s0_tag.eq(self.i_tag),
                         s0_base.eq(self.dma_base), s0_size.eq(self.dma_size)]

        # Stage P: the multiplications (field-check products, footprint product).
        w0 = [s0_words[i] for i in range(DESCRIPTOR_WORDS)]
        opcode0 = w0[0][:4]
        sp_valid = Signal()
        sp_words = Signal(DESCRIPTOR_LAYOUT)
        sp_tag = Signal(ENTRY_TAG_LAYOUT)
        sp_base = Signal(32)
        sp_size = Signal(32)
        sp_product = Signal(48)         # footprint: (rows - 1) * stride, or a LIST's bytes
        products = {Opcode.ELTWISE: None}
        for product_opcode in _PRODUCT_OPCODES:
            if product_opcode == Opcode.ELTWISE and not self._config.npu_eltwise:
                continue                # no element-wise unit: ELTWISE is refused before
            f0 = Signal(command_layout(product_opcode),
                        name=f"sp_{product_opcode.name.lower()}_fields")
            m.d.comb += unpack_fields(product_opcode, w0, f0)
            products[product_opcode] = {}
            for name, expr in _products(product_opcode, f0).items():
                reg = Signal(expr.shape(), name=f"sp_{product_opcode.name.lower()}_{name}")
                with m.If(en):
                    m.d.sync += reg.eq(expr)
                products[product_opcode][name] = reg
            if product_opcode == Opcode.LOAD:
                load_rows_m1 = _load_source_rows_m1(f0, self._config.npu_gather)
        rows_m1 = Mux(opcode0 == Opcode.LOAD.value, load_rows_m1, w0[3][:16] - 1)[:16]
        # A LIST's entries: [list_addr, list_addr + 32 * count), as product + 0 row bytes.
        list_bytes = w0[2][:16] << 5
        with m.If(en):
            m.d.sync += [
                sp_valid.eq(s0_valid), sp_words.eq(s0_words), sp_tag.eq(s0_tag),
                sp_base.eq(s0_base), sp_size.eq(s0_size),
                sp_product.eq(Mux(opcode0 == Opcode.LIST.value, list_bytes, rows_m1 * w0[2])),
            ]

        # Stage 1: field checks.
        w = [sp_words[i] for i in range(DESCRIPTOR_WORDS)]
        opcode = w[0][:4]
        load, load_bytes, fill, scale = self._load_checks(m, w, products[Opcode.LOAD])
        compute = self._compute_checks(m, w, products[Opcode.COMPUTE])
        store, store_lsz = self._store_checks(m, w)
        lst = self._list_checks(m, w, sp_tag.in_list)
        eltwise = self._eltwise_checks(m, w, products[Opcode.ELTWISE])
        is_load = opcode == Opcode.LOAD.value
        is_compute = opcode == Opcode.COMPUTE.value
        is_store = opcode == Opcode.STORE.value
        is_fence = opcode == Opcode.FENCE.value
        is_list = opcode == Opcode.LIST.value
        is_eltwise = opcode == Opcode.ELTWISE.value
        fence_reserved = _overlaps_any(w, reserved_masks(Opcode.FENCE))

        early = Signal(ErrorCode)
        with m.If(~(is_load | is_compute | is_store | is_fence | is_list | is_eltwise)):
            m.d.comb += early.eq(ErrorCode.BAD_OPCODE)
        with m.Elif(is_fence):
            m.d.comb += early.eq(Mux(fence_reserved, ErrorCode.RESERVED, ErrorCode.NONE))
        with m.Else():
            # Walk from the last check to the first: the earliest failing one is assigned last.
            m.d.comb += early.eq(ErrorCode.NONE)
            for code in reversed(_FIELD_CHECKS):
                failed = Mux(is_load, load.get(code, 0),
                             Mux(is_compute, compute.get(code, 0),
                                 Mux(is_list, lst.get(code, 0),
                                     Mux(is_eltwise, eltwise.get(code, 0),
                                         store.get(code, 0)))))
                with m.If(failed):
                    m.d.comb += early.eq(code)

        s1_valid = Signal()
        s1_words = Signal(DESCRIPTOR_LAYOUT)
        s1_tag = Signal(ENTRY_TAG_LAYOUT)
        s1_early = Signal(ErrorCode)
        s1_dma = Signal()
        s1_product = Signal(48)
        s1_row_bytes = Signal(18)
        s1_first = Signal(32)
        s1_win_base = Signal(32)
        s1_win_end = Signal(33)
        s1_scale = Signal()             # an INT4_FP16 LOAD: its scale row must fit too
        s1_scale_first = Signal(32)
        s1_scale_end = Signal(34)
        with m.If(en):
            m.d.sync += [
                s1_valid.eq(sp_valid),
                s1_words.eq(sp_words),
                s1_tag.eq(sp_tag),
                s1_early.eq(early),
                s1_dma.eq((is_load & ~fill) | is_store | is_list),
                s1_product.eq(sp_product),
                s1_row_bytes.eq(Mux(is_list, 0,
                                    Mux(is_load, load_bytes, w[3][16:] << store_lsz))),
                s1_scale.eq(is_load & scale[0]),
                s1_scale_first.eq(scale[1]),
                s1_scale_end.eq(scale[2]),
                s1_first.eq(w[1]),
                s1_win_base.eq(sp_base),
                # An empty window (size 0 or past 2**32) becomes end = 0: nothing fits.
                s1_win_end.eq(Mux((sp_size == 0) | (sp_base + sp_size > 1 << 32), 0,
                                  sp_base + sp_size)),
            ]

        # Stage 2: footprint end, window compare.
        end = Signal(50)                # one past the last byte
        m.d.comb += end.eq(s1_first + s1_product + s1_row_bytes)
        outside = ((s1_first < s1_win_base) | (end > s1_win_end)
                   | (s1_scale & ((s1_scale_first < s1_win_base) | (s1_scale_end > s1_win_end))))
        code = Mux(s1_early != ErrorCode.NONE, s1_early,
                   Mux(s1_dma & outside, ErrorCode.DMA_WINDOW, ErrorCode.NONE))
        with m.If(en):
            m.d.sync += [self.o_valid.eq(s1_valid), self.o_words.eq(s1_words),
                         self.o_tag.eq(s1_tag), self.o_code.eq(code)]
        m.d.comb += self.occupied.eq(s0_valid | sp_valid | s1_valid | self.o_valid)
        return m

