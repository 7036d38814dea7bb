"""Behavioural model of a x16 SDR SDRAM chip, with timing checks, for Amaranth simulations.

Written from the datasheet of the ISSI IS42S16160G-7 (the ULX3S's 32 MiB SDRAM), independently
of the controller in :mod:`dure.rtl.soc.sdram`: it has its own table of datasheet numbers
(:class:`SdramDatasheet`) and checks them in nanoseconds against the clock period, so a
controller that rounds a time to too few cycles is caught.

The model is a testbench (:meth:`SdramChip.run`) that samples the command pins at every rising
edge, stores data per bank / row / column, drives read data ``CL`` cycles after a READ, honours
DQM byte masks on writes (and the two-cycle DQM output disable on reads), and raises
:class:`SdramViolation` naming the rule and the cycle on the first violation: a command during
the power-up wait or before the initialisation sequence is complete, a command to a bank in the
wrong state, tRCD, tRP, tRAS (min and max), tRC, tRRD, tWR, tRFC, tMRD, a row left unrefreshed
for longer than tREF, the clock too fast for the programmed CAS latency, and the controller
driving DQ while the chip does.

Pins are logical and active high (``cs``, ``ras``, ``cas``, ``we``, ``dqm``), with the data bus
split into ``dq_o`` / ``dq_oe`` (controller) and ``dq_i`` (chip), as in
:class:`dure.rtl.soc.sdram.pins.SdramPinSignature`. Cycle ``n`` is the ``n``-th clock period of
the simulation; a value sampled at the edge ending cycle ``n`` belongs to cycle ``n``.
"""

from collections import Counter
from dataclasses import dataclass

__all__ = ["SdramDatasheet", "IS42S16160G", "IS42S16160B", "SdramViolation", "SdramChip"]


@dataclass(frozen=True)
class SdramDatasheet:
    """The numbers of one part's datasheet (times in seconds, minimums unless named max).

    Tests shorten ``t_init``, ``t_ref`` and ``refresh_rows`` with ``dataclasses.replace`` to
    keep simulations short; ``t_ref / refresh_rows`` is the average refresh interval.
    """

    t_rcd: float = 15e-9
    t_rp: float = 15e-9
    t_ras: float = 37e-9
    t_ras_max: float = 100e-6
    t_rc: float = 60e-9
    t_rrd: float = 14e-9
    t_wr: float = 14e-9          # last data in to PRECHARGE (tDPL)
    t_rfc: float = 60e-9
    t_mrd_clk: int = 2           # LOAD MODE REGISTER to the next command, clocks
    t_ref: float = 64e-3         # every row refreshed within this time
    refresh_rows: int = 8192     # AUTO REFRESH commands per t_ref (the row counter's period)
    t_init: float = 100e-6       # power-up wait, NOP only
    init_refreshes: int = 2
    t_ck_cl2: float = 7.5e-9     # shortest clock period at CAS latency 2
    t_ck_cl3: float = 7e-9       # ... at CAS latency 3
    banks: int = 4
    rows: int = 8192
    columns: int = 512


#: ISSI IS42S16160G, speed grade -7 (143 MHz at CL 3): 4 banks x 8192 rows x 512 columns.
IS42S16160G = SdramDatasheet()

#: ISSI IS42S16160B, speed grade -7 (the iCESugar-Pro's part; the older die): the same
#: geometry, slower rows (the figures of :data:`dure.rtl.soc.sdram.IS42S16160B_7`, where the
#: sources differ the longer time), a 200 us power-up wait with 8 AUTO REFRESH, CAS latency 2
#: up to 100 MHz.
IS42S16160B = SdramDatasheet(t_rcd=20e-9, t_rp=20e-9, t_ras=45e-9, t_rc=67.5e-9, t_rrd=14e-9,
                             t_wr=20e-9, t_rfc=70e-9, t_init=200e-6, init_refreshes=8,
                             t_ck_cl2=10e-9)

_COMMANDS = {
    (0, 0, 0): "NOP", (0, 0, 1): "BURST TERMINATE", (0, 1, 0): "READ", (0, 1, 1): "WRITE",
    (1, 0, 0): "ACTIVE", (1, 0, 1): "PRECHARGE", (1, 1, 0): "AUTO REFRESH",
    (1, 1, 1): "LOAD MODE REGISTER",
}


class SdramViolation(AssertionError):
    """The controller broke a rule of the datasheet; the message names it and the cycle."""


class SdramChip:
    """The chip, driven by a testbench.

    Parameters
    ----------
    pins : object
        The pin interface (``clk_en``, ``cs``, ``ras``, ``cas``, ``we``, ``ba``, ``a``,
        ``dqm``, ``dq_o``, ``dq_oe``, ``dq_i``).
    clk_period : float
        Clock period in seconds.
    datasheet : SdramDatasheet
        The part.
    clock_inverted : bool
        The chip's clock is the controller's inverted (a board's usual arrangement): it samples
        the commands half a cycle after the controller's edge, so they count in the same cycle,
        but its read data, valid from ``tAC`` after one of its edges to ``tOH`` after the next,
        is there at the controller's edge one cycle earlier than with a common edge, and the
        chip still drives DQ for half of the cycle after the last beat.

    Attributes
    ----------
    commands : collections.Counter
        How many of each command were issued.
    refreshes : list of int
        Cycles of the AUTO REFRESH commands.
    memory : dict
        ``(bank, row, column) -> 16-bit value`` of every written location.
    cycle : int
        The current cycle.
    """

    def __init__(self, pins, *, clk_period, datasheet=IS42S16160G, clock_inverted=False):
        self.pins, self.t_ck, self.ds = pins, clk_period, datasheet
        self._advance = int(bool(clock_inverted))
        self.commands = Counter()
        self.refreshes = []
        self.memory = {}
        self.cycle = 0
        ds = datasheet
        self._open = [None] * ds.banks             # open row of each bank
        self._last = {}                             # (event, bank) -> cycle
        self._precharged = False                    # PRECHARGE ALL after the power-up wait
        self._init_refreshes = 0
        self._mode = None                           # (burst length, interleaved, CL, single wr)
        self._row_refreshed = [0] * ds.refresh_rows
        self._refresh_row = 0
        self._drive = {}                            # cycle -> (bank, value) the chip drives
        self._writes = {}                           # cycle -> (bank, row, column) of a beat
        self._driving = False
        self._drove = False

    # Errors and timing rules.

    def _fail(self, message):
        raise SdramViolation(f"cycle {self.cycle} ({self.cycle * self.t_ck * 1e9:.0f} ns): "
                             f"{message}")

    def _after(self, event, bank, minimum, rule, command):
        """``command`` must come ``minimum`` seconds after the last ``event`` on ``bank``."""
        last = self._last.get((event, bank))
        if last is None:
            return
        elapsed = (self.cycle - last) * self.t_ck
        if elapsed < minimum - 1e-12:
            where = "" if bank is None else f" of bank {bank}"
            self._fail(f"{command} {elapsed * 1e9:.1f} ns ({self.cycle - last} cycles) after "
                       f"the {event}{where} at cycle {last}: {rule} is "
                       f"{minimum * 1e9:.1f} ns")

    def _mrd(self, command):
        self._after("LOAD MODE REGISTER", None, self.ds.t_mrd_clk * self.t_ck - 1e-13,
                    f"tMRD ({self.ds.t_mrd_clk} clocks)", command)

    def _ready(self, command):
        if self._mode is None or self._init_refreshes < self.ds.init_refreshes:
            self._fail(f"{command} before the initialisation is complete (PRECHARGE ALL, "
                       f"{self.ds.init_refreshes} AUTO REFRESH, LOAD MODE REGISTER; seen "
                       f"{self._init_refreshes} refreshes, mode "
                       f"{'set' if self._mode else 'not set'})")

    def _all_idle(self, command):
        for bank, row in enumerate(self._open):
            if row is not None:
                self._fail(f"{command} while bank {bank} has row {row} open")
            self._after("PRECHARGE", bank, self.ds.t_rp, "tRP", command)
            self._after("ACTIVE", bank, self.ds.t_rc, "tRC", command)
        self._after("AUTO REFRESH", None, self.ds.t_rfc, "tRFC", command)
        self._mrd(command)

    # Commands.

    def _active(self, bank, row):
        ds = self.ds
        self._ready("ACTIVE")
        if self._open[bank] is not None:
            self._fail(f"ACTIVE to bank {bank} with row {self._open[bank]} already open")
        if row >= ds.rows:
            self._fail(f"ACTIVE to row {row}, the part has {ds.rows}")
        self._after("PRECHARGE", bank, ds.t_rp, "tRP", "ACTIVE")
        self._after("ACTIVE", bank, ds.t_rc, "tRC", "ACTIVE")
        for other in range(ds.banks):
            if other != bank:
                self._after("ACTIVE", other, ds.t_rrd, "tRRD", f"ACTIVE to bank {bank}")
        self._after("AUTO REFRESH", None, ds.t_rfc, "tRFC", "ACTIVE")
        self._mrd("ACTIVE")
        self._open[bank] = row
        self._last["ACTIVE", bank] = self.cycle

    def _burst(self, column):
        length, interleaved = self._mode[0], self._mode[1]
        base = column & ~(length - 1)
        for i in range(length):
            yield base | (((column ^ i) if interleaved else (column + i)) & (length - 1))

    def _access(self, command, bank, a):
        ds = self.ds
        self._ready(command)
        row = self._open[bank]
        if row is None:
            self._fail(f"{command} to bank {bank}, which has no open row")
        self._after("ACTIVE", bank, ds.t_rcd, "tRCD", command)
        self._mrd(command)
        if a & (1 << 10):
            self._fail(f"{command} with auto precharge (A10): not modelled")
        column = a & ((1 << 10) - 1)
        if column >= ds.columns:
            self._fail(f"{command} to column {column}, the part has {ds.columns}")
        # A READ or WRITE ends the burst before it (reads: from its first data cycle on).
        self._writes.clear()
        columns = list(self._burst(column))
        if command == "READ":
            first = self.cycle + self._mode[2] - self._advance
            for cycle in [c for c in self._drive if c >= first]:
                del self._drive[cycle]
            for i, col in enumerate(columns):
                self._drive[first + i] = (bank, self.memory.get((bank, row, col),
                                                                self.unwritten(bank, row, col)))
            self._last["READ", bank] = self.cycle
        else:
            if self._mode[3]:
                columns = columns[:1]
            for i, col in enumerate(columns):
                self._writes[self.cycle + i] = (bank, row, col)

    def _precharge(self, bank, a):
        ds = self.ds
        if not self._precharged:
            if not a & (1 << 10):
                self._fail("the first command after the power-up wait must be PRECHARGE ALL")
            self._precharged = True
        banks = range(ds.banks) if a & (1 << 10) else [bank]
        for b in banks:
            if self._open[b] is None:
                continue
            command = f"PRECHARGE of bank {b}"
            self._after("ACTIVE", b, ds.t_ras, "tRAS", command)
            self._after("last write data", b, ds.t_wr, "tWR", command)
            if any(target[0] == b for target in self._writes.values()):
                self._fail(f"{command} during its write burst")
            # Read data stops CL cycles after the PRECHARGE (a truncated burst).
            stop = self.cycle + self._mode[2] - self._advance
            for cycle in [c for c, (db, _) in self._drive.items() if db == b and c >= stop]:
                del self._drive[cycle]
            self._open[b] = None
            self._last["PRECHARGE", b] = self.cycle
        self._mrd("PRECHARGE")

    def _refresh(self):
        if not self._precharged:
            self._fail("AUTO REFRESH before the initial PRECHARGE ALL")
        self._all_idle("AUTO REFRESH")
        self._last["AUTO REFRESH", None] = self.cycle
        self._row_refreshed[self._refresh_row] = self.cycle
        self._refresh_row = (self._refresh_row + 1) % self.ds.refresh_rows
        self._init_refreshes += 1
        self.refreshes.append(self.cycle)

    def _load_mode(self, a):
        if not self._precharged:
            self._fail("LOAD MODE REGISTER before the initial PRECHARGE ALL")
        self._all_idle("LOAD MODE REGISTER")
        lengths = {0: 1, 1: 2, 2: 4, 3: 8}
        if a & 0b111 not in lengths:
            self._fail(f"LOAD MODE REGISTER: burst length code {a & 0b111} is reserved or a "
                       f"full page (not modelled)")
        cl = (a >> 4) & 0b111
        if cl not in (2, 3):
            self._fail(f"LOAD MODE REGISTER: CAS latency code {cl} is reserved")
        if (a >> 7) & 0b11:
            self._fail("LOAD MODE REGISTER: operating mode A[8:7] must be 0 (standard)")
        t_min = self.ds.t_ck_cl2 if cl == 2 else self.ds.t_ck_cl3
        if self.t_ck < t_min - 1e-13:
            self._fail(f"clock period {self.t_ck * 1e9:.2f} ns is shorter than "
                       f"{t_min * 1e9:.2f} ns, the minimum at CAS latency {cl}")
        self._mode = (lengths[a & 0b111], bool(a & 0b1000), cl, bool(a & (1 << 9)))
        self._last["LOAD MODE REGISTER", None] = self.cycle

    @staticmethod
    def unwritten(bank, row, column):
        """What a location never written reads as (a pattern, not zero)."""
        return (0xA5A5 ^ (row * 31 + column * 7 + bank * 1009)) & 0xFFFF

    # One cycle.

    def step(self, cke, cs, ras, cas, we, ba, a, dqm, dq_o, dq_oe):
        """Everything that happens at the edge ending :attr:`cycle`, given the pins sampled
        there; advances :attr:`cycle` and returns what the chip drives on DQ in the new cycle
        (None: high impedance)."""
        ds = self.ds
        if dq_oe and self._driving:
            self._fail("the controller drives DQ while the chip outputs read data")
        command = _COMMANDS[ras, cas, we] if cs else "NOP"
        if command != "NOP" and not cke:
            self._fail(f"{command} with CKE low (power down / clock suspend are not modelled)")
        if self.cycle * self.t_ck < ds.t_init and command != "NOP":
            self._fail(f"{command} during the power-up wait ({ds.t_init * 1e6:g} us of NOP, "
                       f"{self.cycle * self.t_ck * 1e6:g} us elapsed)")
        if command != "NOP":
            self.commands[command] += 1
        # Data in of a write burst (before a new command ends the burst).
        target = self._writes.pop(self.cycle, None)
        if target is not None and command not in ("READ", "WRITE"):
            self._write_beat(target, dqm, dq_o, dq_oe)
        if command == "ACTIVE":
            self._active(ba, a)
        elif command in ("READ", "WRITE"):
            self._access(command, ba, a)
            if command == "WRITE":
                self._write_beat(self._writes.pop(self.cycle), dqm, dq_o, dq_oe)
        elif command == "PRECHARGE":
            self._precharge(ba, a)
        elif command == "AUTO REFRESH":
            self._refresh()
        elif command == "LOAD MODE REGISTER":
            self._load_mode(a)
        elif command == "BURST TERMINATE":
            self._fail("BURST TERMINATE is not modelled")
        # Read output disable: DQM two cycles before a data-out cycle turns it off.
        if dqm == 0b11:
            self._drive.pop(self.cycle + 2 - self._advance, None)
        self._check_ages()
        self.cycle += 1
        drive = self._drive.pop(self.cycle, None)
        self._driving = drive is not None or (self._advance and self._drove)
        self._drove = drive is not None
        for cycle in [c for c in self._drive if c < self.cycle]:
            del self._drive[cycle]
        return None if drive is None else drive[1]

    def _write_beat(self, target, dqm, dq_o, dq_oe):
        bank, row, column = target
        if not dq_oe:
            self._fail(f"write data for bank {bank} row {row} column {column} with DQ not "
                       f"driven")
        old = self.memory.get(target, self.unwritten(*target))
        keep = (0xFF if dqm & 1 else 0) | (0xFF00 if dqm & 2 else 0)
        self.memory[target] = (old & keep) | (dq_o & ~keep & 0xFFFF)
        self._last["last write data", bank] = self.cycle

    def _check_ages(self):
        ds = self.ds
        oldest = self._row_refreshed[self._refresh_row]
        if (self.cycle - oldest) * self.t_ck > ds.t_ref:
            self._fail(f"refresh row {self._refresh_row} was last refreshed at cycle {oldest}, "
                       f"more than tREF = {ds.t_ref * 1e3:g} ms ago ({ds.refresh_rows} AUTO "
                       f"REFRESH per tREF)")
        for bank, row in enumerate(self._open):
            if row is not None:
                opened = self._last["ACTIVE", bank]
                if (self.cycle - opened) * self.t_ck > ds.t_ras_max:
                    self._fail(f"bank {bank} row {row} open since cycle {opened}, longer than "
                               f"tRAS max = {ds.t_ras_max * 1e6:g} us")

    async def run(self, ctx):
        """The testbench: run it in the background of the simulation."""
        p = self.pins
        while True:
            sampled = await ctx.tick().sample(p.clk_en, p.cs, p.ras, p.cas, p.we, p.ba, p.a,
                                              p.dqm, p.dq_o, p.dq_oe)
            drive = self.step(*sampled[-10:])
            ctx.set(p.dq_i, 0xBAD0 | (self.cycle & 0xF) if drive is None else drive)
