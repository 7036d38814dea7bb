"""Load/store unit: request formation (X stage) and load data alignment (M stage)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import Funct3Mem

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
    m_result : Out(32)
        The loaded value, rotated down and sign- or zero-extended.
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

        # Merge: lanes at or above the offset from the first word, below it from the second.
        keep_lo = Signal(4)
        m.d.comb += keep_lo.eq(Const(0b1111, 4) << self.m_offset)
        word = Signal(32)
        m.d.comb += word.eq(Cat(*(Mux(self.m_merge & keep_lo[i], self.m_lo.word_select(i, 8),
                                      self.m_rdata.word_select(i, 8))
                                  for i in range(4))))
        m.d.comb += self.m_word.eq(word)
        shifted = Signal(32)
        m.d.comb += shifted.eq(_rotr_bytes(m, word, self.m_offset))
        with m.Switch(self.m_funct3):
            with m.Case(Funct3Mem.B):
                m.d.comb += self.m_result.eq(shifted[0:8].as_signed())
            with m.Case(Funct3Mem.BU):
                m.d.comb += self.m_result.eq(shifted[0:8])
            with m.Case(Funct3Mem.H):
                m.d.comb += self.m_result.eq(shifted[0:16].as_signed())
            with m.Case(Funct3Mem.HU):
                m.d.comb += self.m_result.eq(shifted[0:16])
            with m.Default():
                m.d.comb += self.m_result.eq(shifted)
        return m


def _rotl_bytes(m, value, amount):
    """``value`` rotated left by ``amount`` bytes (amount: 2 bits)."""
    out = Signal(32)
    with m.Switch(amount):
        for k in range(4):
            with m.Case(k):
                m.d.comb += out.eq(value.rotate_left(8 * k))
    return out


def _rotr_bytes(m, value, amount):
    """``value`` rotated right by ``amount`` bytes (amount: 2 bits)."""
    out = Signal(32)
    with m.Switch(amount):
        for k in range(4):
            with m.Case(k):
                m.d.comb += out.eq(value.rotate_right(8 * k))
    return out
