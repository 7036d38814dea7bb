"""A simulated board behind a pseudo-terminal: the boot link tested with no hardware.

:class:`SimBoard` starts the Verilator model of :class:`~.link_sim_top.LinkSimTop` (the SoC,
the exit mailbox, the boot loader in the ROM) with the standard harness reading UART input from
its stdin (``--uart-in -``) and writing UART output to its stdout, and bridges those pipes to a
pseudo-terminal. The host tool opens the terminal's path like a USB serial port, so the real
protocol runs end to end: ``dure board load prog.elf --sim`` or, in tests,
``BoardLink.open(board.port)``.

:class:`Faults` makes the bridge unreliable on purpose (dropped, corrupted and inserted bytes in
either direction) to show that the protocol loses and corrupts nothing silently.
"""

import hashlib
import os
import pathlib
import random
import subprocess
import tempfile
import threading
import tty
from dataclasses import dataclass, replace

from dure.config import preset

from .bootrom import build_boot

__all__ = ["sim_config", "Faults", "SimBoard", "SimulatorError", "BOARD_VARIANTS", "SIM_CLK_FREQ"]

_FPGA_DIR = pathlib.Path(__file__).resolve().parent


#: The SoC variant each simulated board runs (``SimBoard(board=...)``): the board's preset, the
#: one ``make fpga BOARD=...`` builds (the iCEBreaker's: the tiny core and the INT8 dot-product
#: unit, no NPU; models compile for it through compiler/dot_target.py).
BOARD_VARIANTS = {"ulx3s": "ulx3s", "icebreaker": "icebreaker", "icesugar-pro": "icesugar-pro"}

#: Nominal clock of every simulated board: slow, so that the boot loader's timeouts (counted in
#: cycles) pass quickly in simulation. Cycle counts do not depend on it.
SIM_CLK_FREQ = 2_000_000


def sim_config(core="full", board=None, main="sdram"):
    """The variant a simulated board runs.

    ``board`` None: the ``sim`` preset's memories (so programs built by ``make firmware`` run
    on it) plus a boot ROM, without the NPU (the link does not need it; the model builds and
    runs several times faster); ``core``: the control core variant (``tiny``: the
    iCEBreaker's). ``board`` ``"ulx3s"``, ``"icebreaker"`` or ``"icesugar-pro"``: the board's
    own variant (:data:`BOARD_VARIANTS`: memories, boot ROM, core, NPU), so a model compiled
    for the board runs on it unchanged (``core`` is then ignored). ``main``: on a board with
    SDRAM (ULX3S, iCESugar-Pro), ``"sdram"`` (the default) keeps the board's memory path,
    the SDRAM controller (timed for the board's clock) with the harness's datasheet model of
    the chip (``sim/sdram_chip.h``) on its pins;
    ``"block"`` puts the simulation's block model with the preset's latency and bandwidth in
    its place (faster to simulate; the comparison of the two is in fpga/README.md). Boards
    without SDRAM ignore it. Every variant gets the nominal clock :data:`SIM_CLK_FREQ`.
    Its name carries a hash of this package's sources, so the cached model is rebuilt when the
    mailbox or the top change (the simulator hashes only ``rtl/`` and the config)."""
    digest = hashlib.sha256()
    for name in ("link_sim_top.py", "mailbox.py", "protocol.py"):
        digest.update((_FPGA_DIR / name).read_bytes())
    prefix = f"link-{digest.hexdigest()[:8]}"
    if board is not None:
        if board not in BOARD_VARIANTS:
            raise ValueError(f"no simulated board {board!r}; choose one of: "
                             f"{', '.join(BOARD_VARIANTS)}")
        if main not in ("sdram", "block"):
            raise ValueError(f"main must be 'sdram' or 'block', not {main!r}")
        base = preset(BOARD_VARIANTS[board])
        changes, suffix = {}, ""
        if base.main_kind == "sdram":
            changes = {"main_kind": "block"} if main == "block" else {}
            suffix = f"-{main}"
        return replace(base, name=f"{prefix}-{board}{suffix}", clk_freq=SIM_CLK_FREQ, **changes)
    name = prefix + ("" if core == "full" else f"-{core}")
    return replace(preset("sim"), name=name, clk_freq=SIM_CLK_FREQ, rom_size=4096, npu_rows=0,
                   core=core)


def _link_top(sdram_clk_freq):
    """``config -> LinkSimTop`` with the SDRAM controller timed for ``sdram_clk_freq`` (the
    board's own clock). ``LinkSimTop`` itself where that is its default (the ULX3S's clock,
    or no SDRAM); otherwise a subclass named after the clock, so each board's model has its
    own cache key (:func:`dure.sim.rtlgen.model_hash`) and the same folder label."""
    from .link_sim_top import LinkSimTop
    if sdram_clk_freq is None or sdram_clk_freq == preset("ulx3s").clk_freq:
        return LinkSimTop

    def __init__(self, config, **kwargs):
        kwargs.setdefault("sdram_clk_freq", sdram_clk_freq)
        LinkSimTop.__init__(self, config, **kwargs)

    return type("LinkSimTop", (LinkSimTop,), {
        "__init__": __init__, "__module__": LinkSimTop.__module__,
        "__qualname__": f"LinkSimTop_sdram_{sdram_clk_freq}"})


class SimulatorError(RuntimeError):
    """The simulated board's simulator stopped by itself (its message: e.g. an SDRAM datasheet
    violation found by the chip model)."""


@dataclass
class Faults:
    """Per-byte fault rates of the bridge, separately for each direction.

    ``drop``, ``flip`` (one random bit) and ``insert`` (a random byte before this one) are
    probabilities per byte. Only bytes ``h2d_from .. h2d_from + h2d_bytes - 1`` of the
    host-to-device stream (counted from the bridge's start or the last :meth:`restart`), and
    likewise ``d2h_*`` for the other direction, are exposed (``*_bytes`` None: all after
    ``*_from``).
    """

    drop: float = 0.0
    flip: float = 0.0
    insert: float = 0.0
    h2d_bytes: int | None = None
    d2h_bytes: int | None = None
    h2d_from: int = 0
    d2h_from: int = 0
    seed: int = 1

    def __post_init__(self):
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self.count = {"h2d": 0, "d2h": 0}
        self.injected = {"drop": 0, "flip": 0, "insert": 0}

    def apply(self, direction, data):
        first, size = ((self.h2d_from, self.h2d_bytes) if direction == "h2d"
                       else (self.d2h_from, self.d2h_bytes))
        out = bytearray()
        with self._lock:
            for byte in data:
                index = self.count[direction] - first
                self.count[direction] += 1
                if index < 0 or (size is not None and index >= size):
                    out.append(byte)
                    continue
                r = self._rng.random()
                if r < self.drop:
                    self.injected["drop"] += 1
                    continue
                if r < self.drop + self.flip:
                    self.injected["flip"] += 1
                    byte ^= 1 << self._rng.randrange(8)
                elif r < self.drop + self.flip + self.insert:
                    self.injected["insert"] += 1
                    out.append(self._rng.randrange(256))
                out.append(byte)
        return bytes(out)


class SimBoard:
    """The simulated board; use as a context manager. ``port`` is the serial device path.

    Parameters
    ----------
    faults : Faults, optional
        Make the UART unreliable.
    max_cycles : int
        The harness stops after this many cycles (a guard against runaway tests).
    core : str
        Control core variant (:func:`sim_config`).
    board : str, optional
        Simulate this board's own variant (``ulx3s``, ``icebreaker``, ``icesugar-pro``;
        :func:`sim_config`).
    main : str
        Main memory of the simulated ULX3S: ``"sdram"`` (controller and chip model) or
        ``"block"`` (:func:`sim_config`).

    A simulator that stops by itself (an SDRAM datasheet violation, a harness error) makes
    :meth:`stop` raise :class:`SimulatorError` with the simulator's message; :attr:`error` has
    it as soon as the process has ended.
    """

    def __init__(self, *, faults=None, max_cycles=2_000_000_000, log=None, core="full",
                 board=None, main="sdram"):
        self.config = sim_config(core, board, main)
        self.board = board
        self.faults = faults
        self.max_cycles = max_cycles
        self.log = log
        self.port = None
        self._proc = None
        self._threads = []
        self._tmp = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        from dure.sim.elf import load_elf
        from dure.sim.verilator import build_model

        boot = build_boot(self.config)
        exe = build_model(self.config, top=_link_top(self.sdram_clk_freq), log=self.log)
        self._tmp = tempfile.TemporaryDirectory(prefix="dure-simboard-")
        tmp = pathlib.Path(self._tmp.name)
        (tmp / "image.bin").write_bytes(load_elf(boot, self.config).image())
        sdram = []
        if self.config.main_kind == "sdram":
            sdram = ["--sdram-clock", str(self.sdram_clk_freq)]
        self._stderr = open(tmp / "stderr.txt", "w+b")
        self._proc = subprocess.Popen(
            [str(exe), "--image", str(tmp / "image.bin"), "--result", str(tmp / "result.json"),
             "--max-cycles", str(self.max_cycles), "--uart-in", "-", *sdram],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.port = os.ttyname(self._slave)
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._host_to_device, daemon=True),
            threading.Thread(target=self._device_to_host, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _fault(self, direction, data):
        return self.faults.apply(direction, data) if self.faults else data

    def _host_to_device(self):
        stdin = self._proc.stdin.fileno()
        while not self._stopping.is_set():
            try:
                data = os.read(self._master, 4096)
            except OSError:
                return
            if not data:
                return
            data = self._fault("h2d", data)
            try:
                os.write(stdin, data)
            except OSError:
                return

    def _device_to_host(self):
        stdout = self._proc.stdout.fileno()
        while True:
            data = os.read(stdout, 4096)
            if not data:
                return
            data = self._fault("d2h", data)
            try:
                os.write(self._master, data)
            except OSError:
                return

    @property
    def sdram_clk_freq(self):
        """The clock in Hz the chip model runs at (the board's real clock, the one
        :class:`~.link_sim_top.LinkSimTop` times the SDRAM controller for), or None without
        SDRAM."""
        if self.config.main_kind != "sdram":
            return None
        return preset(BOARD_VARIANTS[self.board]).clk_freq

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    @property
    def error(self):
        """The simulator's message when it has stopped by itself with an error, else None."""
        if self._proc is None or self._proc.poll() in (None, 0, -9):
            return None
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return text or f"the simulator exited with status {self._proc.returncode}"

    def stop(self):
        if self._proc is None:
            return
        self._stopping.set()
        error = self.error
        self._proc.kill()
        self._proc.wait()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._stderr.close()
        self._tmp.cleanup()
        self._proc = None
        if error:
            raise SimulatorError(error)
