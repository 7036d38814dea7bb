"""Load/store unit: request formation (X stage) and load data alignment (M stage)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LoadStoreUnit"]


class LoadStoreUnit(wiring.Component):
    """Address, byte enables and lane rotation for the data bus; sign extension of loads.

    Accesses at any address are supported. An access inside one aligned word (every byte
    access, a halfword at offset 0, 1 or 2, an aligned word) is one bus access. An access that
    crosses a word boundary (halfword at offset 3, word at offset 1, 2 or 3) is *split*: a
    first access to the word holding its first byte (``x_mask``), then one to the next word
    (``x_mask_hi``); the core sequences the two and merges the answers.

    Byte lanes wrap around: lane ``i`` of ``x_wdata`` and of ``m_word`` holds the byte whose
    address is ``i`` modulo 4 among the bytes of the access (for a split access: lanes at or
    above ``addr[1:0]`` belong to the first word, lanes below to the second). So the store
    data word is the same for both halves of a split store.

    Members
    -------
    x_funct3 : In(3)
        Access size (and signedness, for loads).
    x_base, x_offset : In(32)
        rs1 and the immediate.
    x_store_data : In(32)
        rs2.
    x_addr : Out(32)
        Byte address ``rs1 + imm``.
    x_split : Out(1)
        The access crosses a word boundary: two bus accesses.
    x_mask : Out(4)
        Byte lanes of the (first) access within its word (the bus ``be``).
    x_mask_hi : Out(4)
        Byte lanes of the second access of a split access in the next word (0 otherwise).
    x_wdata : Out(32)
        Store data rotated into its lanes (for both accesses of a split store).
    m_funct3 : In(3)
    m_offset : In(2)
        ``addr[1:0]`` of the load in M.
    m_merge : In(1)
        ``m_rdata`` is the second word of a split load; ``m_lo`` holds the first.
    m_lo : In(32)
        The first word of a split load.
    m_rdata : In(32)
        The bus word.
    m_word : Out(32)
        The loaded lanes (wrap-around order: first word's lanes at and above the offset,
        the second word's below it).
    m_enable : In(1, init=1)
        ``m_result`` is the loaded value; 0: ``m_result`` is 0 (the five-stage core ORs it
        into M's result mux, enabled while M holds a load).
    m_result : Out(32)
        The loaded value, rotated down and sign- or zero-extended (0 without ``m_enable``).
    """

    x_funct3: In(3)
    x_base: In(32)
    x_offset: In(32)
    x_store_data: In(32)
    x_addr: Out(32)
    x_split: Out(1)
    x_mask: Out(4)
    x_mask_hi: Out(4)
    x_wdata: Out(32)

    m_funct3: In(3)
    m_offset: In(2)
    m_merge: In(1)
    m_lo: In(32)
    m_rdata: In(32)
    m_enable: In(1, init=1)
    m_word: Out(32)
    m_result: Out(32)

    def elaborate(self, platform):
        m = Module()
        addr = Signal(32)
        size = self.x_funct3[0:2]
        m.d.comb += [
            addr.eq(self.x_base + self.x_offset),
            self.x_addr.eq(addr),
        ]
        lanes = Signal(4)       # the access's lanes from offset 0
        data = Signal(32)       # store data replicated over the word
        with m.Switch(size):
            with m.Case(0):
                m.d.comb += [lanes.eq(0b0001), data.eq(self.x_store_data[0:8].replicate(4))]
            with m.Case(1):
                m.d.comb += [lanes.eq(0b0011), data.eq(self.x_store_data[0:16].replicate(2))]
            with m.Default():
                m.d.comb += [lanes.eq(0b1111), data.eq(self.x_store_data)]
        wide = Signal(8)
        m.d.comb += [
            wide.eq(lanes << addr[0:2]),
            self.x_mask.eq(wide[0:4]),
            self.x_mask_hi.eq(wide[4:8]),
            self.x_split.eq(wide[4:8] != 0),
            self.x_wdata.eq(_rotl_bytes(m, data, addr[0:2])),
        ]

        # Merge (for the trace's ``m_word``): lanes at or above the offset from the first
        # word, below it from the second.
        keep_lo = Signal(4)
        m.d.comb += keep_lo.eq(Const(0b1111, 4) << self.m_offset)
        from_lo = Signal(4)     # lanes taken from ``m_lo``
        m.d.comb += from_lo.eq(Mux(self.m_merge, keep_lo, 0))
        m.d.comb += self.m_word.eq(Cat(*(Mux(from_lo[i], self.m_lo.word_select(i, 8),
                                             self.m_rdata.word_select(i, 8))
                                         for i in range(4))))
        # The loaded value as an AND-OR of the bus word's bits with byte-lane enables that
        # depend on M's registers only (size, offset, merge, ``m_enable``): each result bit
        # is at most 8 bus bits (4 lanes' bit, 4 lanes' sign bit) behind early enables, so
        # the bus answer (a block RAM's output) passes about 2 LUT levels, not a merge mux,
        # a rotation, the sign selection and the extension mux in turn. ``m_lo``'s lanes
        # (a register) are aligned the same way and ORed in.
        data_en, sign_en = _lane_enables(m, self.m_funct3, self.m_offset)
        rd_ok = Signal(4)
        lo_ok = Signal(4)
        m.d.comb += [
            rd_ok.eq(Mux(self.m_enable, ~from_lo, 0)),
            lo_ok.eq(Mux(self.m_enable, from_lo, 0)),
            self.m_result.eq(_and_or(m, self.m_rdata, data_en, sign_en, rd_ok, "rd")
                             | _and_or(m, self.m_lo, data_en, sign_en, lo_ok, "lo")),
        ]
        return m


def _rotl_bytes(m, value, amount):
    """``value`` rotated left by ``amount`` bytes (amount: 2 bits)."""
    out = Signal(32)
    with m.Switch(amount):
        for k in range(4):
            with m.Case(k):
                m.d.comb += out.eq(value.rotate_left(8 * k))
    return out



def _lane_enables(m, funct3, offset):
    """Per result byte ``r`` and bus lane ``k``: ``data_en[r][k]`` (result byte ``r`` is lane
    ``k``'s byte: ``k`` = ``offset + r`` mod 4 and ``r`` inside the access's size) and
    ``sign_en[r][k]`` (result byte ``r`` is the sign extension of lane ``k``'s bit 7: a
    signed load shorter than ``r + 1`` bytes whose last byte is lane ``k``)."""
    size = funct3[0:2]
    signed = ~funct3[2]
    nbytes = Signal(3)
    m.d.comb += nbytes.eq(Mux(size == 0, 1, Mux(size == 1, 2, 4)))
    last = Signal(2)        # the lane of the access's last byte
    m.d.comb += last.eq(offset + nbytes - 1)
    data_en = []
    sign_en = []
    for r in range(4):
        d_row = []
        s_row = []
        for k in range(4):
            d = Signal(name=f"data_en_{r}_{k}")
            s = Signal(name=f"sign_en_{r}_{k}")
            m.d.comb += [
                d.eq((((offset + r) & 3) == k) & (nbytes > r)),
                s.eq(signed & (nbytes <= r) & (last == k)),
            ]
            d_row.append(d)
            s_row.append(s)
        data_en.append(d_row)
        sign_en.append(s_row)
    return data_en, sign_en


def _and_or(m, word, data_en, sign_en, ok, name):
    """The loaded value's bits taken from ``word``'s lanes where ``ok`` (0 elsewhere)."""
    out = Signal(32, name=f"aligned_{name}")
    en_d = [[Signal(name=f"{name}_data_en_{r}_{k}") for k in range(4)] for r in range(4)]
    en_s = [[Signal(name=f"{name}_sign_en_{r}_{k}") for k in range(4)] for r in range(4)]
    for r in range(4):
        for k in range(4):
            m.d.comb += [en_d[r][k].eq(data_en[r][k] & ok[k]),
                         en_s[r][k].eq(sign_en[r][k] & ok[k])]
    bits = []
    for r in range(4):
        for b in range(8):
            terms = []
            for k in range(4):
                terms.append(word[8 * k + b] & en_d[r][k])
                if r > 0:
                    terms.append(word[8 * k + 7] & en_s[r][k])
            bit = terms[0]
            for t in terms[1:]:
                bit = bit | t
            bits.append(bit)
    m.d.comb += out.eq(Cat(*bits))
    return out
