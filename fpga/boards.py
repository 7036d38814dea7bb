"""The boards Dure builds for: which platform, SoC preset, clock and pins each one uses.

Adding a board: write a :class:`Board` entry (an ``amaranth_boards`` platform, a preset in
:data:`dure.config.PRESETS`, the oscillator, the reset button, LEDs and buttons) and add it to
:data:`BOARDS`; ``tests/fpga/test_boards.py`` then elaborates it in ``make test``.
"""

from dataclasses import dataclass, field

from dure.config import preset

__all__ = ["Board", "BOARDS", "board"]


@dataclass(frozen=True)
class Board:
    """One FPGA board target.

    Attributes
    ----------
    name : str
        Board name on the command line (``make fpga BOARD=<name>``).
    platform : str
        ``module:Class`` of the ``amaranth_boards`` platform.
    preset : str
        The SoC variant (:func:`dure.config.preset`).
    family : str
        ``"ecp5"`` or ``"ice40"`` (PLL primitive, report format).
    clock : str
        Oscillator resource; its frequency comes from the platform.
    reset : tuple of (str, int) or None
        Button resource that resets the SoC (``None``: none, reprogram to reset).
    leds : tuple of (str, int) or (str, int, str)
        Resources driven from ``gpio_out`` bit 0, 1, ... (with a third item: that subsignal
        of the resource, e.g. one colour of an RGB LED).
    buttons : tuple of (str, int)
        Resources read as ``gpio_in`` bit 0, 1, ...
    extra_resources : str
        Name of a platform attribute holding optional resources to add (e.g. a PMOD).
    tie_high : tuple of (str, int, str)
        ``(resource, number, subsignal)`` outputs held at 1 (e.g. the ULX3S's ESP32 GPIO0, which
        otherwise lets the ESP32 reconfigure the FPGA).
    programmer : tuple of str
        openFPGALoader arguments selecting the cable / board.
    bitstream : str
        Bitstream file extension the programmer takes (``bit`` or ``bin``).
    description : str
        One line for the README.
    nextpnr_opts : str
        Place-and-route options beyond the device and the report: the router and the seed
        this board's build was shown to route and meet timing with (fpga/README.md).
    """

    name: str
    platform: str
    preset: str
    family: str
    clock: str
    reset: tuple | None
    leds: tuple
    buttons: tuple
    programmer: tuple
    bitstream: str
    description: str
    extra_resources: str = ""
    tie_high: tuple = field(default=())
    nextpnr_opts: str = "--router router2"

    @property
    def config(self):
        """The SoC variant this board builds."""
        return preset(self.preset)

    def make_platform(self):
        """A fresh platform instance (with the extra resources added)."""
        import importlib
        module, cls = self.platform.split(":")
        platform = getattr(importlib.import_module(module), cls)()
        if self.extra_resources:
            platform.add_resources(getattr(platform, self.extra_resources))
        return platform


BOARDS = {
    "ulx3s": Board(
        name="ulx3s",
        platform="amaranth_boards.ulx3s:ULX3S_85F_Platform",
        preset="ulx3s",
        family="ecp5",
        clock="clk25",
        reset=("button_pwr", 0),
        leds=tuple(("led", i) for i in range(8)),
        buttons=(("button_fire", 0), ("button_fire", 1), ("button_up", 0), ("button_down", 0),
                 ("button_left", 0), ("button_right", 0)),
        tie_high=(("esp32", 0, "gpio0"),),
        programmer=("-b", "ulx3s"),
        bitstream="bit",
        description="Radiona ULX3S, Lattice ECP5 LFE5U-85F, 25 MHz oscillator, FT231X UART",
        # router2 did not converge on this board (its over-used wires oscillate in the core's
        # crowded region); router1 with seed 2 routes it (fpga/README.md, 6 December 2026).
        nextpnr_opts="--router router1 --seed 2",
    ),
    "icesugar-pro": Board(
        name="icesugar-pro",
        platform="amaranth_boards.icesugar_pro:ICESugarProPlatform",
        preset="icesugar-pro",
        family="ecp5",
        clock="clk25",
        reset=None,                  # no button on the module: reprogram (or power) to reset
        # The module's RGB LED (its only LED): gpio_out bits 0, 1, 2 light red, green, blue.
        leds=(("rgb_led", 0, "r"), ("rgb_led", 0, "g"), ("rgb_led", 0, "b")),
        buttons=(),
        # The on-board iCELink debugger is a CMSIS-DAP probe on the ECP5's JTAG (openFPGALoader
        # has no board entry for this module).
        programmer=("-c", "cmsisdap"),
        bitstream="bit",
        description="MuseLab iCESugar-Pro, Lattice ECP5 LFE5U-25F, 25 MHz oscillator, "
                    "iCELink (CMSIS-DAP) UART",
    ),
    "icebreaker": Board(
        name="icebreaker",
        platform="amaranth_boards.icebreaker:ICEBreakerPlatform",
        preset="icebreaker",
        family="ice40",
        clock="clk12",
        reset=("button", 0),
        leds=(("led", 0), ("led", 1), ("led", 2), ("led", 3), ("led", 4), ("led", 5),
              ("led", 6)),
        buttons=(("button", 1), ("button", 2), ("button", 3)),
        extra_resources="break_off_pmod",
        programmer=("-b", "ice40_generic"),
        bitstream="bin",
        description="1BitSquared iCEBreaker, Lattice iCE40UP5K, 12 MHz oscillator, FT2232H UART",
    ),
}


def board(name):
    """The :class:`Board` called ``name``; ``ValueError`` listing the choices otherwise."""
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; choose one of: {', '.join(BOARDS)}") from None
