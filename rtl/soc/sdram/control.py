"""Command sequencing of the SDRAM controller: initialisation, open rows, refresh.

One command per cycle, registered onto the pins. Every timing rule is a down-counter that a
command loads with the number of cycles until the next command it constrains may follow; a
command is issued only when its counters are zero. READ and WRITE go in request order; the
PRECHARGE and ACTIVE of the request after the current one go ahead when its bank is another
one and the current request has nothing to issue (bank interleaving).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .timing import SdramCycles

__all__ = ["SdramControl", "BURST_LENGTH"]

#: Every access is one 32-bit word: a burst of two 16-bit beats.
BURST_LENGTH = 2

# (ras, cas, we) of each command, chip selected.
_ACTIVE = (1, 0, 0)
_READ = (0, 1, 0)
_WRITE = (0, 1, 1)
_PRECHARGE = (1, 0, 1)
_REFRESH = (1, 1, 0)
_LOAD_MODE = (1, 1, 1)


class SdramControl(wiring.Component):
    """Chooses the SDRAM command of each cycle for the requests at the head of the queue.

    Parameters
    ----------
    cycles : SdramCycles
        Timing in cycles.
    row_bits, col_bits, bank_bits : int
        Geometry; word addresses are ``{row, bank, column / 2}`` (consecutive words fill a
        row, then move to the next bank, so a sequential stream finds the next row open in
        another bank).
    init_refreshes : int
        AUTO REFRESH commands in the initialisation.

    Members
    -------
    rq_valid, rq_addr, rq_we : In(1), In(word_bits), In(1)
        The oldest request not yet issued.
    rq_issue : Out(1)
        Its READ or WRITE is issued in this cycle (combinational, from registers only).
    nx_valid, nx_addr : In(1), In(word_bits)
        The request after it, whose row may be opened early (0 for no look-ahead).
    refresh_request : In(1)
        A refresh is owed; it goes before any further access.
    refresh_ack : Out(1)
        The AUTO REFRESH is issued in this cycle.
    ready : Out(1)
        Initialisation is done.
    clk_en, cs, ras, cas, we, ba, a : Out
        The command pins (registered), see :class:`.pins.SdramPinSignature`.
    """

    def __init__(self, cycles, *, row_bits, col_bits, bank_bits, init_refreshes):
        if not isinstance(cycles, SdramCycles):
            raise TypeError(f"cycles must be an SdramCycles, not {cycles!r}")
        self._c = cycles
        self._row_bits, self._col_bits, self._bank_bits = row_bits, col_bits, bank_bits
        self._init_refreshes = init_refreshes
        self.word_bits = row_bits + bank_bits + col_bits - 1
        addr_pins = max(row_bits, 11)
        super().__init__({
            "rq_valid": In(1),
            "rq_addr": In(self.word_bits),
            "rq_we": In(1),
            "rq_issue": Out(1),
            "nx_valid": In(1),
            "nx_addr": In(self.word_bits),
            "refresh_request": In(1),
            "refresh_ack": Out(1),
            "ready": Out(1),
            "clk_en": Out(1),
            "cs": Out(1),
            "ras": Out(1),
            "cas": Out(1),
            "we": Out(1),
            "ba": Out(bank_bits),
            "a": Out(addr_pins),
        })

    def _mode_register(self):
        # A[2:0] = 1: burst length 2; A3 = 0: sequential; A[6:4]: CAS latency; A[8:7] = 0:
        # standard operation; A9 = 0: writes use the programmed burst length.
        return 0b001 | (self._c.cas_latency << 4)

    def elaborate(self, platform):
        m = Module()
        c = self._c
        banks = 1 << self._bank_bits
        cl = c.cas_latency
        longest = max(c.rc, c.rfc, c.ras, c.wr + 2, c.rp, c.rcd, c.rrd, c.mrd, cl + 4)

        def counter(name):
            ctr = Signal(range(longest + 1), name=name)
            m.d.sync += ctr.eq(Mux(ctr == 0, 0, ctr - 1))
            return ctr

        def hold(ctr, distance):
            """The next command that ``ctr`` guards comes ``distance`` cycles after this one
            at the earliest."""
            dec = Mux(ctr == 0, 0, ctr - 1)
            m.d.sync += ctr.eq(Mux(dec > distance - 1, dec, distance - 1))

        act_wait = [counter(f"act_wait{b}") for b in range(banks)]   # tRC, tRP, tRFC
        rw_wait = [counter(f"rw_wait{b}") for b in range(banks)]     # tRCD
        pre_wait = [counter(f"pre_wait{b}") for b in range(banks)]   # tRAS, tWR, read burst
        rrd_wait = counter("rrd_wait")
        read_wait = counter("read_wait")                             # data bus
        write_wait = counter("write_wait")                           # data bus turnaround
        is_open = Signal(banks)
        open_row = [Signal(self._row_bits, name=f"open_row{b}") for b in range(banks)]

        def decode(addr, name):
            """Bank, row and column of a word address, and the state of its bank."""
            col_words = self._col_bits - 1
            bank = Signal(self._bank_bits, name=f"{name}_bank")
            row = Signal(self._row_bits, name=f"{name}_row")
            m.d.comb += [bank.eq(addr[col_words:col_words + self._bank_bits]),
                         row.eq(addr[col_words + self._bank_bits:])]
            column = Cat(Const(0, 1), addr[:col_words])
            bank_open = Signal(name=f"{name}_open")
            row_hit = Signal(name=f"{name}_hit")
            m.d.comb += [bank_open.eq(is_open.bit_select(bank, 1)),
                         row_hit.eq(bank_open & (Array(open_row)[bank] == row))]
            may_precharge = bank_open & ~row_hit & (Array(pre_wait)[bank] == 0)
            may_activate = ~bank_open & (Array(act_wait)[bank] == 0) & (rrd_wait == 0)
            return bank, row, column, row_hit, may_precharge, may_activate

        def command(ras_cas_we, ba=0, a=0):
            ras, cas, we = ras_cas_we
            m.d.sync += [self.cs.eq(1), self.ras.eq(ras), self.cas.eq(cas), self.we.eq(we),
                         self.ba.eq(ba), self.a.eq(a)]

        m.d.sync += [self.cs.eq(0), self.ras.eq(0), self.cas.eq(0), self.we.eq(0),
                     self.clk_en.eq(1)]

        def for_bank(bank, *statements):
            for b in range(banks):
                with m.If(bank == b):
                    for statement in statements:
                        statement(b)

        def activate(bank, row):
            command(_ACTIVE, ba=bank, a=row)
            hold(rrd_wait, c.rrd)

            def each(b):
                m.d.sync += [is_open[b].eq(1), open_row[b].eq(row)]
                hold(act_wait[b], c.rc)
                hold(rw_wait[b], c.rcd)
                hold(pre_wait[b], c.ras)
            for_bank(bank, each)

        def precharge(bank):
            command(_PRECHARGE, ba=bank)

            def each(b):
                m.d.sync += is_open[b].eq(0)
                hold(act_wait[b], c.rp)
            for_bank(bank, each)

        def precharge_all():
            command(_PRECHARGE, a=1 << 10)
            m.d.sync += is_open.eq(0)
            for b in range(banks):
                hold(act_wait[b], c.rp)

        def refresh():
            command(_REFRESH)
            for b in range(banks):
                hold(act_wait[b], c.rfc)

        wait = Signal(range(max(c.init, longest) + 1), init=c.init)
        refreshes = Signal(range(self._init_refreshes + 1))
        with m.If(wait != 0):
            m.d.sync += wait.eq(wait - 1)

        all_closable = Const(1)
        all_idle = Const(1)
        for b in range(banks):
            all_closable &= ~is_open[b] | (pre_wait[b] == 0)
            all_idle &= act_wait[b] == 0

        bank, row, column, row_hit, may_precharge, may_activate = decode(self.rq_addr, "rq")
        may_access = row_hit & (Array(rw_wait)[bank] == 0) & Mux(
            self.rq_we, write_wait == 0, read_wait == 0)
        nx_bank, nx_row, _, _, nx_may_precharge, nx_may_activate = decode(self.nx_addr, "nx")
        ahead = self.nx_valid & (nx_bank != bank)

        with m.FSM(name="state"):
            with m.State("INIT-WAIT"):
                with m.If(wait == 0):
                    precharge_all()
                    m.d.sync += wait.eq(c.rp)
                    m.next = "INIT-REFRESH"
            with m.State("INIT-REFRESH"):
                with m.If(wait <= 1):
                    with m.If(refreshes == self._init_refreshes):
                        command(_LOAD_MODE, a=self._mode_register())
                        m.d.sync += wait.eq(c.mrd)
                        m.next = "INIT-MODE"
                    with m.Else():
                        refresh()
                        m.d.sync += [refreshes.eq(refreshes + 1), wait.eq(c.rfc)]
            with m.State("INIT-MODE"):
                with m.If(wait <= 1):
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.ready.eq(1)
                with m.If(self.refresh_request):
                    with m.If(all_closable & is_open.any()):
                        precharge_all()
                    with m.Elif(~is_open.any() & all_idle):
                        refresh()
                        m.d.comb += self.refresh_ack.eq(1)
                with m.Elif(self.rq_valid):
                    with m.If(may_access):
                        m.d.comb += self.rq_issue.eq(1)
                        with m.If(self.rq_we):
                            command(_WRITE, ba=bank, a=column)
                            # Last data in one cycle later, then the write recovery.
                            for_bank(bank, lambda b: hold(pre_wait[b], 1 + c.wr))
                            hold(read_wait, BURST_LENGTH)
                            hold(write_wait, BURST_LENGTH)
                        with m.Else():
                            command(_READ, ba=bank, a=column)
                            for_bank(bank, lambda b: hold(pre_wait[b], BURST_LENGTH))
                            hold(read_wait, BURST_LENGTH)
                            # The chip drives DQ CL .. CL + 1 cycles later; then one idle
                            # cycle before the controller drives it.
                            hold(write_wait, cl + BURST_LENGTH + 1)
                    with m.Elif(may_precharge):
                        precharge(bank)
                    with m.Elif(may_activate):
                        activate(bank, row)
                    with m.Elif(ahead & nx_may_precharge):
                        precharge(nx_bank)
                    with m.Elif(ahead & nx_may_activate):
                        activate(nx_bank, nx_row)
        return m
