"""Load/store unit: request formation (X stage) and load data alignment (M stage)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import Funct3Mem

__all__ = ["LoadStoreUnit"]


class LoadStoreUnit(wiring.Component):
    """Address, byte enables and lane shifting for the data bus; sign extension of loads.

    Misaligned accesses (halfword at an odd address, word not 4-byte aligned) are not split:
    they raise load / store address-misaligned (mcause 4 / 6, mtval = the address) and never
    reach the bus.

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
    x_misaligned : Out(1)
    x_mask : Out(4)
        Byte lanes of the access within its word (the bus ``be``).
    x_wdata : Out(32)
        Store data shifted into its lanes.
    m_funct3 : In(3)
    m_offset : In(2)
        ``addr[1:0]`` of the load in M.
    m_rdata : In(32)
        The bus word.
    m_result : Out(32)
        The loaded value, shifted down and sign- or zero-extended.
    """

    x_funct3: In(3)
    x_base: In(32)
    x_offset: In(32)
    x_store_data: In(32)
    x_addr: Out(32)
    x_misaligned: Out(1)
    x_mask: Out(4)
    x_wdata: Out(32)

    m_funct3: In(3)
    m_offset: In(2)
    m_rdata: In(32)
    m_result: Out(32)

    def elaborate(self, platform):
        m = Module()
        addr = Signal(32)
        size = self.x_funct3[0:2]
        m.d.comb += [
            addr.eq(self.x_base + self.x_offset),
            self.x_addr.eq(addr),
        ]
        with m.Switch(size):
            with m.Case(0):
                m.d.comb += [self.x_mask.eq(0b0001 << addr[0:2]),
                             self.x_wdata.eq(self.x_store_data[0:8].replicate(4))]
            with m.Case(1):
                m.d.comb += [self.x_mask.eq(0b0011 << addr[0:2]),
                             self.x_wdata.eq(self.x_store_data[0:16].replicate(2)),
                             self.x_misaligned.eq(addr[0])]
            with m.Default():
                m.d.comb += [self.x_mask.eq(0b1111),
                             self.x_wdata.eq(self.x_store_data),
                             self.x_misaligned.eq(addr[0:2] != 0)]

        shifted = Signal(32)
        m.d.comb += shifted.eq(self.m_rdata >> (self.m_offset * 8))
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
                m.d.comb += self.m_result.eq(self.m_rdata)
        return m
