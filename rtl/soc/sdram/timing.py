"""SDR SDRAM timing and geometry: datasheet numbers in, clock cycles out.

The controller is parametrised by one frozen :class:`SdramTiming` (times in seconds, as a
datasheet gives them, plus the array geometry); :meth:`SdramTiming.cycles` converts it to whole
clock cycles for a given clock frequency at elaboration. :data:`IS42S16160G_7` is the ULX3S's
32 MiB part (16 M x 16: 4 banks of 8192 rows of 512 columns), :data:`IS42S16160B_7` the
iCESugar-Pro's (same geometry, an older die with slower timing); :data:`PARTS` names them for
:attr:`dure.config.SoCConfig.sdram_part`.
"""

import math
from dataclasses import dataclass

__all__ = ["SdramTiming", "SdramCycles", "IS42S16160G_7", "IS42S16160B_7", "PARTS", "part"]


@dataclass(frozen=True)
class SdramCycles:
    """The timing of :class:`SdramTiming` in clock cycles (every field >= 1).

    ``refresh_period`` is the number of cycles between two refresh requests of the controller:
    ``t_refi`` less a margin that covers the longest wait before the refresh can be issued.
    """

    rcd: int
    rp: int
    ras: int
    rc: int
    rrd: int
    wr: int
    rfc: int
    mrd: int
    init: int
    refresh_period: int
    cas_latency: int


@dataclass(frozen=True)
class SdramTiming:
    """Timing and geometry of one SDR SDRAM part (x16).

    Parameters
    ----------
    t_rcd, t_rp, t_ras, t_rc, t_rrd, t_wr, t_rfc : float
        Minimum times in seconds: ACTIVE to READ/WRITE, PRECHARGE to ACTIVE, ACTIVE to
        PRECHARGE, ACTIVE to ACTIVE (same bank), ACTIVE to ACTIVE (other bank), last write data
        to PRECHARGE, AUTO REFRESH to any command.
    t_mrd : int
        LOAD MODE REGISTER to any command, in cycles (datasheets give it in clocks).
    t_refi : float
        Average interval between AUTO REFRESH commands: the refresh period (64 ms) divided by
        the number of rows refreshed in it (8192).
    t_init : float
        Power-up wait with NOPs before the initialisation commands (100 us or 200 us).
    init_refreshes : int
        AUTO REFRESH commands in the initialisation sequence (>= 2).
    cas_latency : int
        CAS latency programmed in the mode register, 2 or 3.
    row_bits, col_bits, bank_bits : int
        Geometry; the address bus is ``max(row_bits, 11)`` pins wide (A10 is the precharge-all
        and auto-precharge flag, so columns use at most 10 bits).
    """

    t_rcd: float = 15e-9
    t_rp: float = 15e-9
    t_ras: float = 37e-9
    t_rc: float = 60e-9
    t_rrd: float = 14e-9
    t_wr: float = 14e-9
    t_rfc: float = 60e-9
    t_mrd: int = 2
    t_refi: float = 64e-3 / 8192
    t_init: float = 100e-6
    init_refreshes: int = 2
    cas_latency: int = 2
    row_bits: int = 13
    col_bits: int = 9
    bank_bits: int = 2

    def __post_init__(self):
        for name in ("t_rcd", "t_rp", "t_ras", "t_rc", "t_rrd", "t_wr", "t_rfc", "t_refi",
                     "t_init"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive time in seconds, not {value!r}")
        if not isinstance(self.t_mrd, int) or self.t_mrd < 1:
            raise ValueError(f"t_mrd must be an integer number of cycles >= 1, not "
                             f"{self.t_mrd!r}")
        if self.cas_latency not in (2, 3):
            raise ValueError(f"cas_latency must be 2 or 3, not {self.cas_latency!r}")
        if not isinstance(self.init_refreshes, int) or self.init_refreshes < 2:
            raise ValueError(f"init_refreshes must be an integer >= 2, not "
                             f"{self.init_refreshes!r}")
        if not isinstance(self.row_bits, int) or not 11 <= self.row_bits <= 14:
            raise ValueError(f"row_bits must be an integer in 11..14, not {self.row_bits!r}")
        if not isinstance(self.col_bits, int) or not 8 <= self.col_bits <= 10:
            raise ValueError(f"col_bits must be an integer in 8..10, not {self.col_bits!r}")
        if self.bank_bits not in (1, 2):
            raise ValueError(f"bank_bits must be 1 or 2, not {self.bank_bits!r}")

    @property
    def addr_pins(self):
        """Width of the address bus A."""
        return max(self.row_bits, 11)

    @property
    def size(self):
        """Capacity in bytes."""
        return 2 << (self.row_bits + self.col_bits + self.bank_bits)

    def cycles(self, clk_freq):
        """The timing in whole cycles of a ``clk_freq`` Hz clock (:class:`SdramCycles`).

        Raises ``ValueError`` when the clock is too slow to refresh in time.
        """
        if not isinstance(clk_freq, (int, float)) or clk_freq <= 0:
            raise ValueError(f"clk_freq must be a positive frequency in Hz, not {clk_freq!r}")

        def up(seconds):
            # A tiny tolerance keeps 15 ns at 66.67 MHz (1.0000001 cycles) at one cycle.
            return max(1, math.ceil(seconds * clk_freq - 1e-6))

        rcd, rp, ras, rc, rrd, wr, rfc = (up(t) for t in (
            self.t_rcd, self.t_rp, self.t_ras, self.t_rc, self.t_rrd, self.t_wr, self.t_rfc))
        refi = math.floor(self.t_refi * clk_freq)
        # Worst wait from a refresh request to the AUTO REFRESH: a row just opened (tRAS), a
        # write burst to finish and recover (2 + tWR), the precharge (tRP), plus slack.
        margin = ras + 2 + wr + rp + self.cas_latency + 8
        if refi <= 2 * margin:
            raise ValueError(f"a {clk_freq} Hz clock leaves {refi} cycles per refresh interval, "
                             f"too few for the refresh margin of {margin}")
        return SdramCycles(rcd=rcd, rp=rp, ras=ras, rc=rc, rrd=rrd, wr=wr, rfc=rfc,
                           mrd=self.t_mrd, init=up(self.t_init), refresh_period=refi - margin,
                           cas_latency=self.cas_latency)


#: ISSI IS42S16160G-7 (the ULX3S's 32 MiB SDRAM), 4 banks x 8192 rows x 512 columns x 16 bits.
IS42S16160G_7 = SdramTiming()


#: ISSI IS42S16160B-7 (the iCESugar-Pro's 32 MiB SDRAM), the same geometry as the G die with
#: slower timing: tRCD = tRP = 20 ns, tRAS 45 ns, tRC 67.5 ns, tRRD 14 ns, a 200 us power-up
#: wait and 8 AUTO REFRESH in the initialisation (the -7 figures as two independent controllers
#: written for this part, on the DE2-70 and DE0-Nano boards, give them); tWR 20 ns and tRFC 70 ns
#: are the larger of those and LiteDRAM's ``IS42S16160`` module (14 / 67.5 ns there). Waiting
#: longer than a part needs is always legal, so where the sources differ the longer time is kept.
IS42S16160B_7 = SdramTiming(t_rcd=20e-9, t_rp=20e-9, t_ras=45e-9, t_rc=67.5e-9, t_rrd=14e-9,
                            t_wr=20e-9, t_rfc=70e-9, t_mrd=2, t_init=200e-6, init_refreshes=8)

#: The parts a board may carry, by the name :attr:`dure.config.SoCConfig.sdram_part` uses.
PARTS = {"IS42S16160G-7": IS42S16160G_7, "IS42S16160B-7": IS42S16160B_7}


def part(name):
    """The :class:`SdramTiming` of part ``name`` (:data:`PARTS`); ``ValueError`` otherwise."""
    try:
        return PARTS[name]
    except KeyError:
        raise ValueError(f"unknown SDRAM part {name!r}; choose one of: "
                         f"{', '.join(PARTS)}") from None
