"""Clock generation for the boards: PLL parameter solvers and the ``sync`` domain with its reset.

Each board has one oscillator; a PLL turns it into the SoC clock ``config.clk_freq``. The
solvers search the PLL's divider space for an exact setting (the UART divisor and the ``time``
CSR documentation assume ``clk_freq`` exactly) and raise ``ValueError`` with the nearest
reachable frequencies when there is none.

The ``sync`` domain's reset is held until the PLL locks and while the board's reset button is
pressed, and is released synchronously (:class:`amaranth.lib.cdc.ResetSynchronizer`). On the
ECP5 the synchronizer's output reaches the domain through a ``DCCA`` clock buffer, so nextpnr
routes the reset on a global network, not as a general-routing tree to the LSR pins of half
the design's flip-flops (14,264 of 28,200 on the ULX3S), where it kept router1 ripping up and
re-routing (fpga/README.md, session 20).
"""

from dataclasses import dataclass

from amaranth.hdl import ClockDomain, ClockSignal, Const, Instance, Module, ResetSignal, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In

__all__ = ["Ecp5PllSetting", "Ice40PllSetting", "ecp5_pll", "ice40_pll", "ClockReset"]


@dataclass(frozen=True)
class Ecp5PllSetting:
    """Dividers of an ECP5 ``EHXPLLL`` with ``CLKOP`` as feedback:
    ``f_out = f_in / clki_div * clkfb_div``, ``f_vco = f_out * clkop_div``."""

    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_in: int
    f_out: int

    @property
    def f_vco(self):
        return self.f_out * self.clkop_div


@dataclass(frozen=True)
class Ice40PllSetting:
    """Dividers of an iCE40 ``SB_PLL40`` in SIMPLE feedback mode:
    ``f_vco = f_in / (divr + 1) * (divf + 1)``, ``f_out = f_vco / 2**divq``."""

    divr: int
    divf: int
    divq: int
    f_in: int
    f_out: int

    @property
    def filter_range(self):
        """The loop filter setting for the phase detector's frequency (iCE40 datasheet)."""
        f_pfd = self.f_in / (self.divr + 1)
        for limit, value in ((17e6, 1), (26e6, 2), (44e6, 3), (66e6, 4), (101e6, 5)):
            if f_pfd < limit:
                return value
        return 6


def _no_setting(kind, f_in, f_out, candidates):
    near = sorted(candidates, key=lambda f: abs(f - f_out))[:3]
    near_text = ", ".join(f"{f / 1e6:.4f} MHz" for f in sorted(near)) or "none"
    raise ValueError(f"the {kind} PLL cannot make exactly {f_out / 1e6:.4f} MHz from "
                     f"{f_in / 1e6:.4f} MHz; nearest: {near_text}")


def ecp5_pll(f_in, f_out):
    """The :class:`Ecp5PllSetting` for an exact ``f_out`` (Hz) from ``f_in`` (Hz).

    Limits (ECP5 family datasheet): phase detector 3.125..400 MHz, VCO 400..800 MHz, output
    3.125..400 MHz. Among exact settings the one with the highest VCO frequency is chosen
    (lowest jitter)."""
    if not 3_125_000 <= f_out <= 400_000_000:
        raise ValueError(f"ECP5 PLL output must be 3.125..400 MHz, not {f_out / 1e6} MHz")
    best = None
    reachable = set()
    for clki_div in range(1, 129):
        if not 3.125e6 <= f_in / clki_div <= 400e6:
            continue
        for clkfb_div in range(1, 81):
            out = f_in * clkfb_div / clki_div
            for clkop_div in range(1, 129):
                if not 400e6 <= out * clkop_div <= 800e6:
                    continue
                reachable.add(round(out))
                if out * clki_div == f_in * clkfb_div and out == f_out:
                    setting = Ecp5PllSetting(clki_div, clkfb_div, clkop_div, f_in, f_out)
                    if best is None or setting.f_vco > best.f_vco:
                        best = setting
    if best is None:
        _no_setting("ECP5", f_in, f_out, reachable)
    return best


def ice40_pll(f_in, f_out):
    """The :class:`Ice40PllSetting` for an exact ``f_out`` (Hz) from ``f_in`` (Hz).

    Limits (iCE40 sysCLOCK PLL guide): phase detector 10..133 MHz, VCO 533..1066 MHz, output
    16..275 MHz, ``divr`` 0..15, ``divf`` 0..127, ``divq`` 1..6."""
    best = None
    reachable = set()
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                out = f_vco / 2 ** divq
                if not 16e6 <= out <= 275e6:
                    continue
                reachable.add(round(out))
                if f_in * (divf + 1) == f_out * (divr + 1) * 2 ** divq:
                    if best is None:
                        best = Ice40PllSetting(divr, divf, divq, f_in, f_out)
    if best is None:
        _no_setting("iCE40", f_in, f_out, reachable)
    return best


class ClockReset(wiring.Component):
    """Clock and reset of the ``sync`` domain (which the parent defines): oscillator pin -> PLL
    (or straight through) -> clock, with a reset held until lock and while ``button`` is 1.

    Parameters
    ----------
    family : str
        ``"ecp5"`` or ``"ice40"``.
    clk_port : io port
        The oscillator pin, requested with ``dir="-"``.
    f_in : int
        Oscillator frequency, Hz.
    f_out : int
        The SoC clock, Hz. iCE40 with ``f_out == f_in``: no PLL (its output starts at 16 MHz).

    Members
    -------
    button : In(1)
        Reset request (already active high), asynchronous.
    """

    button: In(1)

    def __init__(self, family, clk_port, *, f_in, f_out):
        if family not in ("ecp5", "ice40"):
            raise ValueError(f"family must be 'ecp5' or 'ice40', not {family!r}")
        self._family = family
        self._port = clk_port
        self._f_in = int(f_in)
        self._f_out = int(f_out)
        self.setting = None
        if family == "ecp5":            # always through the PLL (it also cleans up the clock)
            self.setting = ecp5_pll(self._f_in, self._f_out)
        elif self._f_in != self._f_out:
            self.setting = ice40_pll(self._f_in, self._f_out)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        locked = Signal()
        s = self.setting
        if s is None:
            m.submodules.clk_buf = buf = io.Buffer("i", self._port)
            m.d.comb += [ClockSignal("sync").eq(buf.i), locked.eq(1)]
        elif self._family == "ecp5":
            m.submodules.clk_buf = buf = io.Buffer("i", self._port)
            clkop = Signal()
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=str(s.f_in / 1e6), a_FREQUENCY_PIN_CLKOP=str(s.f_out / 1e6),
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=s.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=s.clkop_div,
                p_CLKOP_CPHASE=s.clkop_div - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKFB_DIV=s.clkfb_div,
                i_CLKI=buf.i, i_CLKFB=clkop, i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0,
                i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=clkop, o_LOCK=locked)
            m.d.comb += ClockSignal("sync").eq(clkop)
        else:
            # The PLL takes the oscillator straight from its pad (the pad must be a PLL input).
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE", p_DIVR=s.divr, p_DIVF=s.divf, p_DIVQ=s.divq,
                p_FILTER_RANGE=s.filter_range,
                io_PACKAGEPIN=self._port, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=ClockSignal("sync"), o_LOCK=locked)
        if self._family == "ecp5":
            # The synchronizer drives a local domain's reset (same clock); a DCCA buffers it
            # onto a global network, and its output is the ``sync`` reset.
            m.domains.reset_src = ClockDomain(local=True)
            m.d.comb += ClockSignal("reset_src").eq(ClockSignal("sync"))
            m.submodules.reset_sync = ResetSynchronizer(~locked | self.button,
                                                        domain="reset_src")
            m.submodules.reset_dcc = Instance("DCCA", i_CLKI=ResetSignal("reset_src"),
                                              i_CE=Const(1), o_CLKO=ResetSignal("sync"))
        else:
            m.submodules.reset_sync = ResetSynchronizer(~locked | self.button, domain="sync")
        return m
