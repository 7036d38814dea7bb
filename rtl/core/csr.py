"""CSR file (M stage): privilege level, status, trap setup and handling, counters, IDs, PMP,
triggers."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import (
    CSR,
    DISABLED_TYPE,
    MCONTROL6_TYPE,
    MCONTROL_TYPE,
    MIP,
    MISA_VALUE,
    PMP_ADDR_RANGE,
    PMP_CFG_RANGE,
    TINFO_VALUE,
    InterruptCause,
    MControl,
    MControl6,
    PMPCfg,
    PMPMode,
)
from .layouts import protection_layout
from .pmp import napot_care

__all__ = ["CSRFile", "check_protection"]


def check_protection(pmp_entries, triggers):
    """Raise ``ValueError`` unless the PMP entry and trigger counts are supported."""
    if not isinstance(pmp_entries, int) or not 0 <= pmp_entries <= 16:
        raise ValueError(f"pmp_entries must be an integer in 0..16, not {pmp_entries!r}")
    if not isinstance(triggers, int) or not 0 <= triggers <= 8:
        raise ValueError(f"triggers must be an integer in 0..8, not {triggers!r}")


class CSRFile(wiring.Component):
    """The CSRs of an RV32IM hart with M- and U-mode, PMP and Sdtrig triggers.

    CSR instructions are executed by the M stage when they commit: ``rdata`` is the old value
    (combinational on ``addr``), and the new value is written at the clock edge. Which CSRs
    exist and which are read-only is decided by the decoder (illegal instructions never get
    here).

    WARL choices: ``mstatus`` keeps MIE, MPIE, MPP (below), MPRV and TW, the rest reads 0;
    ``mstatush`` and the hardware performance counters / events read 0 and ignore writes;
    ``misa`` reads 0x40001100 and ignores writes; ``mie`` keeps MSIE/MTIE/MEIE; ``mip`` reads
    the interrupt inputs and ignores writes; ``mtvec`` keeps BASE[31:2] and MODE bit 0 (direct
    or vectored); ``mepc`` bits 1:0 read 0; ``mcause``, ``mtval``, ``mscratch`` keep all 32 bits;
    ``mcountinhibit`` keeps CY and IR. A CSR write to a counter replaces that cycle's increment.

    Privilege: the hart starts in M-mode with ``mstatus.MPP`` = M. A trap enters M and saves the
    previous level in MPP; MRET returns to MPP and sets MPP to U. MPP holds M (0b11) or U
    (0b00): writing 0b01 or 0b10 gives U. ``mstatus.TW`` is writable (the decoder makes WFI
    in U-mode illegal when it is set). ``mstatus.MPRV`` is writable: while it is set, M-mode
    loads and stores are checked (PMP) with the privilege in MPP (``prot.dpriv_m``); an MRET
    to U clears it, a trap keeps it. A write to ``mstatus`` that changes the data privilege
    raises ``dpriv_write`` (the M stage refetches the next instruction, as after a PMP CSR
    write). ``mcounteren`` keeps
    CY, TM, IR (U-mode access to cycle / time / instret), the rest reads 0.

    PMP (``pmp_entries`` entries, G = 0): ``pmpcfg0..3`` hold the configuration bytes
    (bits 6:5 read 0, W = 1 with R = 0 is written as W = 0), ``pmpaddr0..15`` all 32 bits;
    the CSRs of entries beyond ``pmp_entries`` (up to pmpcfg15 / pmpaddr63) read 0 and ignore
    writes. A locked entry (L) ignores writes to its ``pmpcfg`` byte and ``pmpaddr`` until
    reset, and so does ``pmpaddr[i]`` when entry ``i + 1`` is locked in TOR mode. The NAPOT
    compare masks (``prot.pmp_care``) follow a ``pmpaddr`` write one cycle late (the cores
    refetch after a PMP CSR write, so no check happens in that cycle).

    Triggers (``triggers`` of them, Sdtrig): ``tselect`` keeps a value below ``triggers``
    (other writes are ignored; with one trigger it reads 0); ``tdata1`` is an ``mcontrol``
    (type 2, the reset type) or an ``mcontrol6`` (type 6), as the write's type field asks,
    with LOAD, STORE, EXECUTE, U and M writable and every other field 0 (a write asking for
    anything else, e.g. another action or match, keeps U / M but disarms the trigger: LOAD =
    STORE = EXECUTE = 0); a write of any other type (0, 15, ...) disables the trigger: it
    reads type 15 with every other field 0. ``tdata2`` is the address; ``tdata3`` reads 0;
    ``tinfo`` reads ``TINFO_VALUE`` (types 2, 6, 15, version 1); ``tcontrol`` keeps MTE and MPTE (a
    trap into M: MPTE = MTE, MTE = 0; MRET: MTE = MPTE). With no trigger ``tdata1`` reads 0
    and ``tinfo`` 1.

    Parameters
    ----------
    hartid : int
        Value of ``mhartid``.
    pmp_entries : int
        PMP entries implemented, 0..16.
    triggers : int
        Address-match triggers, 0..8.

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
    dpriv_write : Out(1)
        The CSR instruction at ``addr`` / ``op`` / ``wval`` (when it commits) writes
        ``mstatus`` with a new MPRV / MPP that changes ``prot.dpriv_m``.
    retire : In(1)
        An instruction retires this cycle (``minstret``).
    irq_software, irq_timer, irq_external : In(1)
    mtime : In(64)
    mtvec : Out(32)
    mepc : Out(32)
    irq_waiting : Out(1)
        ``(mip & mie) != 0`` (wakes WFI).
    irq_pending : Out(1)
        An interrupt must be taken: ``irq_waiting`` and (``mstatus.MIE`` or U-mode).
    irq_cause : Out(4)
        Highest-priority enabled pending interrupt (MEI > MSI > MTI).
    prot : Out(protection_layout(pmp_entries, triggers))
        Privilege level, TW, ``mcounteren``, MTE, PMP entries and triggers, for the checks.
    """

    def __init__(self, *, hartid=0, pmp_entries=16, triggers=1):
        if not isinstance(hartid, int) or not 0 <= hartid < 2**32:
            raise ValueError(f"hartid must be a 32-bit unsigned integer, not {hartid!r}")
        check_protection(pmp_entries, triggers)
        self._hartid = hartid
        self._pmp_entries = pmp_entries
        self._triggers = triggers
        super().__init__({
            "prot": Out(protection_layout(pmp_entries, triggers)),
            "op_valid": In(1), "addr": In(12), "op": In(2), "write": In(1), "wval": In(32),
            "rdata": Out(32),
            "trap": In(1), "trap_interrupt": In(1), "trap_cause": In(4), "trap_tval": In(32),
            "trap_pc": In(32),
            "mret": In(1), "retire": In(1), "dpriv_write": Out(1),
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
        priv_m = Signal(init=1)    # current privilege level: M (else U)
        mpp_m = Signal(init=1)     # mstatus.MPP: M (else U)
        tw = Signal()              # mstatus.TW
        mprv = Signal()            # mstatus.MPRV
        counteren = Signal(3)      # mcounteren CY, TM, IR
        mte = Signal()             # tcontrol.MTE
        mpte = Signal()            # tcontrol.MPTE
        npmp, ntrig = self._pmp_entries, self._triggers
        pmp_cfg = [Signal(8, name=f"pmpcfg{i}") for i in range(npmp)]
        pmp_addr = [Signal(32, name=f"pmpaddr{i}") for i in range(npmp)]
        pmp_care = [Signal(32, name=f"pmpcare{i}", init=0xFFFF_FFFE) for i in range(npmp)]
        tselect = Signal(range(max(ntrig, 1)))
        trig_ctrl = [Signal(5, name=f"tctrl{i}") for i in range(ntrig)]   # L S X U M
        trig_type6 = [Signal(name=f"ttype6_{i}") for i in range(ntrig)]   # mcontrol6
        trig_off = [Signal(name=f"toff{i}") for i in range(ntrig)]        # type 15
        trig_addr = [Signal(32, name=f"tdata2_{i}") for i in range(ntrig)]

        mip = Signal(12)
        m.d.comb += mip.eq(Cat(Const(0, 3), self.irq_software, Const(0, 3), self.irq_timer,
                               Const(0, 3), self.irq_external))
        mstatus = Signal(32)
        m.d.comb += mstatus.eq(Cat(Const(0, 3), mie_bit, Const(0, 3), mpie_bit, Const(0, 3),
                                   mpp_m, mpp_m, Const(0, 4), mprv, Const(0, 3), tw))
        prot = self.prot
        m.d.comb += [prot.priv_m.eq(priv_m), prot.tw.eq(tw), prot.counteren.eq(counteren),
                     prot.mte.eq(mte), prot.dpriv_m.eq(priv_m & ~(mprv & ~mpp_m))]
        for i in range(npmp):
            m.d.comb += [prot.pmp_cfg[i].eq(pmp_cfg[i]), prot.pmp_addr[i].eq(pmp_addr[i]),
                         prot.pmp_care[i].eq(pmp_care[i])]
        for i in range(ntrig):
            m.d.comb += [prot.trig_ctrl[i].eq(trig_ctrl[i]), prot.trig_addr[i].eq(trig_addr[i])]

        # The selected trigger's registers as CSR values.
        tdata1 = Signal(32)
        tdata2 = Signal(32)
        for i in range(ntrig):
            with m.If(tselect == i):
                c = trig_ctrl[i]
                kind = Mux(trig_off[i], DISABLED_TYPE,
                           Mux(trig_type6[i], MCONTROL6_TYPE, MCONTROL_TYPE))
                m.d.comb += [
                    tdata1.eq(Cat(c[0:4], Const(0, 2), c[4], Const(0, 21), kind[:4])),
                    tdata2.eq(trig_addr[i]),
                ]
        active = Signal(12)
        m.d.comb += [
            active.eq(mip & mie),
            self.irq_waiting.eq(active != 0),
            # M-mode interrupts are always enabled in U-mode (mstatus.MIE only masks them in M).
            self.irq_pending.eq((mie_bit | ~priv_m) & (active != 0)),
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
            CSR.MCOUNTEREN: counteren,
            CSR.TSELECT: tselect, CSR.TDATA1: tdata1, CSR.TDATA2: tdata2,
            CSR.TINFO: TINFO_VALUE if ntrig else 1,
            CSR.TCONTROL: Cat(Const(0, 3), mte, Const(0, 3), mpte),
        }
        for k in range((npmp + 3) // 4):
            values[PMP_CFG_RANGE[0] + k] = Cat(*(pmp_cfg[i] if i < npmp else Const(0, 8)
                                                 for i in range(4 * k, 4 * k + 4)))
        for i in range(npmp):
            values[PMP_ADDR_RANGE[0] + i] = pmp_addr[i]
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

        # The new MPRV and MPP of an mstatus write, from the fields themselves (not through
        # the read mux: this feeds the M stage's redirect).
        bits = {}
        for name, old in (("mprv", mprv), ("mpp1", mpp_m), ("mpp2", mpp_m)):
            bit = {"mprv": 17, "mpp1": 11, "mpp2": 12}[name]
            w = self.wval[bit]
            bits[name] = Mux(self.op == 1, w, Mux(self.op == 2, old | w, old & ~w))
        new_dpriv_m = priv_m & ~(bits["mprv"] & ~(bits["mpp1"] & bits["mpp2"]))
        m.d.comb += self.dpriv_write.eq(self.write & (self.addr == CSR.MSTATUS) &
                                        (new_dpriv_m != self.prot.dpriv_m))

        # Counters: a CSR write replaces the increment. The incremented values depend on
        # registers only; ``retire`` just selects (a clock enable), so it arrives late.
        m.d.sync += mcycle.eq(mcycle + ~inhibit_cy)
        with m.If(self.retire & ~inhibit_ir):
            m.d.sync += minstret.eq(minstret + 1)

        we = self.op_valid & self.write
        with m.If(we):
            with m.Switch(self.addr):
                with m.Case(CSR.MSTATUS):
                    m.d.sync += [mie_bit.eq(new[3]), mpie_bit.eq(new[7]),
                                 mpp_m.eq(new[11] & new[12]), mprv.eq(new[17]),
                                 tw.eq(new[21])]
                with m.Case(CSR.MCOUNTEREN):
                    m.d.sync += counteren.eq(new[0:3])
                with m.Case(CSR.TCONTROL):
                    m.d.sync += [mte.eq(new[3]), mpte.eq(new[7])]
                with m.Case(CSR.TSELECT):
                    if ntrig > 1:
                        with m.If(new < ntrig):
                            m.d.sync += tselect.eq(new)
                with m.Case(CSR.TDATA1):
                    # Type 2 or 6 with dmode 0, action 0, match 0, chain 0, and (type 2)
                    # timing 0, select 0, sizelo 0 or (type 6) uncertainen 0, size 0,
                    # select 0 is armed as written; another value of those fields keeps U / M
                    # and clears LOAD / STORE / EXECUTE. Any other type (0, 15, ...)
                    # disables the trigger: type 15, every field 0.
                    wtype = new[MControl.TYPE.value:MControl.TYPE.value + 4]
                    type6 = wtype == MCONTROL6_TYPE
                    common = (new[MControl.MATCH.value:MControl.MATCH.value + 4] != 0) | \
                        new[MControl.CHAIN.value] | \
                        (new[MControl.ACTION.value:MControl.ACTION.value + 4] != 0)
                    only2 = new[16:20] != 0   # sizelo, timing, select
                    only6 = new[MControl6.UNCERTAINEN.value] | \
                        (new[MControl6.SIZE.value:MControl6.SIZE.value + 3] != 0) | \
                        new[MControl6.SELECT.value]
                    unsupported = common | Mux(type6, only6, only2)
                    off = (wtype != MCONTROL_TYPE) & ~type6
                    for i in range(ntrig):
                        with m.If(tselect == i):
                            m.d.sync += [
                                trig_ctrl[i].eq(Mux(off, 0, Cat(
                                    new[0:3] & ~unsupported.replicate(3),
                                    new[MControl.U.value], new[MControl.M.value]))),
                                trig_type6[i].eq(type6),
                                trig_off[i].eq(off),
                            ]
                with m.Case(CSR.TDATA2):
                    for i in range(ntrig):
                        with m.If(tselect == i):
                            m.d.sync += trig_addr[i].eq(new)
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

        # PMP: a locked entry keeps its configuration and address; pmpaddr[i] is also kept
        # when entry i + 1 is a locked TOR entry. The NAPOT compare mask of the written
        # address is computed once (one adder, shared by the entries) in the cycle after the
        # write, from the registered value (the adder is off the CSR read-modify-write path),
        # and kept with it: ``pmp_care`` follows ``pmp_addr`` one cycle late. No check sees
        # the gap: a PMP CSR write refetches the next instruction (FLUSH_RANGES), whose fetch
        # and accesses are checked two or more cycles after the write.
        care_we = Signal()
        care_idx = Signal(range(max(npmp, 1)))
        care_src = Signal(32)
        m.d.sync += [care_we.eq(0), care_src.eq(new)]
        with m.If(care_we):
            for i in range(npmp):
                with m.If(care_idx == i):
                    m.d.sync += pmp_care[i].eq(napot_care(care_src))
        for i in range(npmp):
            locked = pmp_cfg[i][PMPCfg["L"]]
            with m.If(we & (self.addr == PMP_CFG_RANGE[0] + i // 4) & ~locked):
                byte = new[8 * (i % 4):8 * (i % 4) + 8]
                m.d.sync += pmp_cfg[i].eq(Cat(byte[0], byte[1] & byte[0], byte[2:5],
                                              Const(0, 2), byte[7]))
            addr_locked = locked
            if i + 1 < npmp:
                nxt = pmp_cfg[i + 1]
                addr_locked = addr_locked | (nxt[PMPCfg["L"]] &
                                             (nxt[3:5] == PMPMode.TOR.value))
            with m.If(we & (self.addr == PMP_ADDR_RANGE[0] + i) & ~addr_locked):
                m.d.sync += [pmp_addr[i].eq(new), care_we.eq(1), care_idx.eq(i)]

        with m.If(self.trap):
            m.d.sync += [
                mepc.eq(self.trap_pc & ~3),
                mcause.eq(Cat(self.trap_cause, Const(0, 27), self.trap_interrupt)),
                mtval.eq(self.trap_tval),
                mpie_bit.eq(mie_bit),
                mie_bit.eq(0),
                priv_m.eq(1),
                mpp_m.eq(priv_m),
                mpte.eq(mte),
                mte.eq(0),
            ]
        with m.Elif(self.mret):
            m.d.sync += [mie_bit.eq(mpie_bit), mpie_bit.eq(1), priv_m.eq(mpp_m), mpp_m.eq(0),
                         mte.eq(mpte)]
            with m.If(~mpp_m):                 # MRET to U clears MPRV
                m.d.sync += mprv.eq(0)
        return m
