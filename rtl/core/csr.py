"""Machine-mode CSR file (M stage): status, trap setup and handling, counters, IDs."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import CSR, MIP, MISA_VALUE, InterruptCause

__all__ = ["CSRFile"]


class CSRFile(wiring.Component):
    """The CSRs of an RV32IM machine-mode hart.

    CSR instructions are executed by the M stage when they commit: ``rdata`` is the old value
    (combinational on ``addr``), and the new value is written at the clock edge. Which CSRs
    exist and which are read-only is decided by the decoder (illegal instructions never get
    here).

    WARL choices: ``mstatus`` keeps MIE and MPIE, MPP reads 0b11, the rest reads 0;
    ``mstatush`` and the hardware performance counters / events read 0 and ignore writes;
    ``misa`` reads 0x40001100 and ignores writes; ``mie`` keeps MSIE/MTIE/MEIE; ``mip`` reads
    the interrupt inputs and ignores writes; ``mtvec`` keeps BASE[31:2] and MODE bit 0 (direct
    or vectored); ``mepc`` bits 1:0 read 0; ``mcause``, ``mtval``, ``mscratch`` keep all 32 bits;
    ``mcountinhibit`` keeps CY and IR. A CSR write to a counter replaces that cycle's increment.

    Parameters
    ----------
    hartid : int
        Value of ``mhartid``.

    Members
    -------
    op_valid : In(1)
        A CSR instruction commits this cycle.
    addr : In(12)
    op : In(2)
        ``funct3[1:0]``: 1 write, 2 set bits, 3 clear bits.
    write : In(1)
        The instruction writes (CSRRW*, or a non-zero rs1 / uimm).
    wval : In(32)
        rs1 value or zero-extended uimm.
    rdata : Out(32)
    trap : In(1)
        Enter a trap this cycle.
    trap_interrupt : In(1)
    trap_cause : In(4)
    trap_tval : In(32)
    trap_pc : In(32)
        Written to ``mepc``.
    mret : In(1)
        An MRET commits this cycle.
    retire : In(1)
        An instruction retires this cycle (``minstret``).
    irq_software, irq_timer, irq_external : In(1)
    mtime : In(64)
    mtvec : Out(32)
    mepc : Out(32)
    irq_waiting : Out(1)
        ``(mip & mie) != 0`` (wakes WFI).
    irq_pending : Out(1)
        An interrupt must be taken: ``mstatus.MIE`` and ``irq_waiting``.
    irq_cause : Out(4)
        Highest-priority enabled pending interrupt (MEI > MSI > MTI).
    """

    def __init__(self, *, hartid=0):
        if not isinstance(hartid, int) or not 0 <= hartid < 2**32:
            raise ValueError(f"hartid must be a 32-bit unsigned integer, not {hartid!r}")
        self._hartid = hartid
        super().__init__({
            "op_valid": In(1), "addr": In(12), "op": In(2), "write": In(1), "wval": In(32),
            "rdata": Out(32),
            "trap": In(1), "trap_interrupt": In(1), "trap_cause": In(4), "trap_tval": In(32),
            "trap_pc": In(32),
            "mret": In(1), "retire": In(1),
            "irq_software": In(1), "irq_timer": In(1), "irq_external": In(1), "mtime": In(64),
            "mtvec": Out(32), "mepc": Out(32),
            "irq_waiting": Out(1), "irq_pending": Out(1), "irq_cause": Out(4),
        })

    def elaborate(self, platform):
        m = Module()
        mie_bit = Signal()         # mstatus.MIE
        mpie_bit = Signal()        # mstatus.MPIE
        mie = Signal(12)           # interrupt enables (only MIP.ALL bits)
        mtvec = Signal(32)
        mscratch = Signal(32)
        mepc = Signal(32)
        mcause = Signal(32)
        mtval = Signal(32)
        mcycle = Signal(64)
        minstret = Signal(64)
        inhibit_cy = Signal()
        inhibit_ir = Signal()

        mip = Signal(12)
        m.d.comb += mip.eq(Cat(Const(0, 3), self.irq_software, Const(0, 3), self.irq_timer,
                               Const(0, 3), self.irq_external))
        mstatus = Signal(32)
        m.d.comb += mstatus.eq(Cat(Const(0, 3), mie_bit, Const(0, 3), mpie_bit, Const(0, 3),
                                   Const(0b11, 2)))
        active = Signal(12)
        m.d.comb += [
            active.eq(mip & mie),
            self.irq_waiting.eq(active != 0),
            self.irq_pending.eq(mie_bit & (active != 0)),
            self.mtvec.eq(mtvec),
            self.mepc.eq(mepc),
        ]
        with m.If(active[InterruptCause.MEI.value]):
            m.d.comb += self.irq_cause.eq(InterruptCause.MEI)
        with m.Elif(active[InterruptCause.MSI.value]):
            m.d.comb += self.irq_cause.eq(InterruptCause.MSI)
        with m.Else():
            m.d.comb += self.irq_cause.eq(InterruptCause.MTI)

        # Reads.
        values = {
            CSR.MSTATUS: mstatus, CSR.MISA: MISA_VALUE, CSR.MIE: mie, CSR.MTVEC: mtvec,
            CSR.MCOUNTINHIBIT: Cat(inhibit_cy, Const(0, 1), inhibit_ir),
            CSR.MSCRATCH: mscratch, CSR.MEPC: mepc, CSR.MCAUSE: mcause, CSR.MTVAL: mtval,
            CSR.MIP: mip,
            CSR.MCYCLE: mcycle[:32], CSR.MCYCLEH: mcycle[32:],
            CSR.MINSTRET: minstret[:32], CSR.MINSTRETH: minstret[32:],
            CSR.CYCLE: mcycle[:32], CSR.CYCLEH: mcycle[32:],
            CSR.INSTRET: minstret[:32], CSR.INSTRETH: minstret[32:],
            CSR.TIME: self.mtime[:32], CSR.TIMEH: self.mtime[32:],
            CSR.MHARTID: self._hartid,
        }
        with m.Switch(self.addr):
            for csr, value in values.items():
                with m.Case(csr):
                    m.d.comb += self.rdata.eq(value)
            with m.Default():   # IDs, mconfigptr, mstatush, hpm counters / events: zero
                m.d.comb += self.rdata.eq(0)

        new = Signal(32)
        with m.Switch(self.op):
            with m.Case(1):
                m.d.comb += new.eq(self.wval)
            with m.Case(2):
                m.d.comb += new.eq(self.rdata | self.wval)
            with m.Default():
                m.d.comb += new.eq(self.rdata & ~self.wval)

        # Counters: a CSR write replaces the increment. The incremented values depend on
        # registers only; ``retire`` just selects (a clock enable), so it arrives late.
        m.d.sync += mcycle.eq(mcycle + ~inhibit_cy)
        with m.If(self.retire & ~inhibit_ir):
            m.d.sync += minstret.eq(minstret + 1)

        we = self.op_valid & self.write
        with m.If(we):
            with m.Switch(self.addr):
                with m.Case(CSR.MSTATUS):
                    m.d.sync += [mie_bit.eq(new[3]), mpie_bit.eq(new[7])]
                with m.Case(CSR.MIE):
                    m.d.sync += mie.eq(new[:12] & MIP.ALL.value)
                with m.Case(CSR.MTVEC):
                    m.d.sync += mtvec.eq(new & 0xFFFF_FFFD)
                with m.Case(CSR.MCOUNTINHIBIT):
                    m.d.sync += [inhibit_cy.eq(new[0]), inhibit_ir.eq(new[2])]
                with m.Case(CSR.MSCRATCH):
                    m.d.sync += mscratch.eq(new)
                with m.Case(CSR.MEPC):
                    m.d.sync += mepc.eq(new & ~3)
                with m.Case(CSR.MCAUSE):
                    m.d.sync += mcause.eq(new)
                with m.Case(CSR.MTVAL):
                    m.d.sync += mtval.eq(new)
                with m.Case(CSR.MCYCLE):
                    m.d.sync += mcycle.eq(Cat(new, mcycle[32:]))
                with m.Case(CSR.MCYCLEH):
                    m.d.sync += mcycle.eq(Cat(mcycle[:32], new))
                with m.Case(CSR.MINSTRET):
                    m.d.sync += minstret.eq(Cat(new, minstret[32:]))
                with m.Case(CSR.MINSTRETH):
                    m.d.sync += minstret.eq(Cat(minstret[:32], new))

        with m.If(self.trap):
            m.d.sync += [
                mepc.eq(self.trap_pc & ~3),
                mcause.eq(Cat(self.trap_cause, Const(0, 27), self.trap_interrupt)),
                mtval.eq(self.trap_tval),
                mpie_bit.eq(mie_bit),
                mie_bit.eq(0),
            ]
        with m.Elif(self.mret):
            m.d.sync += [mie_bit.eq(mpie_bit), mpie_bit.eq(1)]
        return m
