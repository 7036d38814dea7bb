"""Host side of the boot link: load a program into a board (or the simulated board) over the
UART, start it, relay its output and collect its exit code. Protocol: :mod:`.protocol`.

Example
-------
>>> link = BoardLink.open("/dev/ttyUSB0", baud=115200)           # doctest: +SKIP
>>> result = link.run_elf("build/firmware/hello.elf")            # doctest: +SKIP
>>> result.exit_code, result.output                              # doctest: +SKIP
(1, b'Hello from Dure\\n')
"""

import struct
import time
from dataclasses import dataclass

from dure.errors import UserError

from .protocol import MAX_PAYLOAD, Error, FrameDecoder, Info, Type, crc32, encode

__all__ = ["LinkError", "BoardLink", "RunResult", "JobResult", "elf_segments", "Stats"]


class LinkError(UserError):
    """The board did not answer, refused a command, or a check failed."""


@dataclass
class Stats:
    """Counters of one link session (what the fault-injection tests look at)."""

    commands: int = 0
    resent: int = 0       # commands sent again after a timeout or NAK
    naks: int = 0
    bad_frames: int = 0   # received frames with a bad CRC or length
    bytes_sent: int = 0


@dataclass(frozen=True)
class RunResult:
    """Outcome of :meth:`BoardLink.run`.

    Attributes
    ----------
    exit_code : int or None
        Value the program wrote to the test-exit register (1 = pass, (n << 1) | 1 = fail n);
        None when ``timeout`` passed first.
    output : bytes
        Everything the program sent on the UART.
    seconds : float
        From the start command to the exit report.
    go_confirmed : bool
        False when the start command's acknowledgement was lost and the host concluded from
        the boot loader's silence that the program runs (the output may then start with the
        remains of that acknowledgement).
    """

    exit_code: int | None
    output: bytes
    seconds: float
    go_confirmed: bool = True

    @property
    def status(self):
        """``pass``, ``fail``, ``bad-exit`` or ``timeout`` (as in :mod:`dure.sim.runner`)."""
        if self.exit_code is None:
            return "timeout"
        if self.exit_code == 1:
            return "pass"
        return "fail" if self.exit_code & 1 else "bad-exit"


@dataclass(frozen=True)
class JobResult:
    """Outcome of :meth:`BoardLink.run_job`: a program run with its data loaded before and
    memory read back after, shaped like :class:`dure.sim.runner.RunResult` (``status``,
    ``exit_code``, ``dumps``) so the same caller can use the simulator or a board.

    Attributes
    ----------
    exit_code, output : as in :class:`RunResult`
    dumps : dict
        ``{(address, length): bytes}`` read after the exit (empty after a timeout).
    load_seconds, run_seconds, read_seconds : float
        Wall-clock time of loading (every range written and CRC-checked), of the run (GO to
        the exit report) and of reading the dumps back.
    bytes_loaded, bytes_read : int
        Payload bytes loaded and read back.
    """

    exit_code: int | None
    output: bytes
    dumps: dict
    load_seconds: float
    run_seconds: float
    read_seconds: float
    bytes_loaded: int
    bytes_read: int

    status = RunResult.status

    @property
    def link_seconds(self):
        """Time spent moving data over the link (loading and reading back)."""
        return self.load_seconds + self.read_seconds


def elf_segments(path, *, zero_fill=True):
    """``(entry, [(address, bytes), ...])`` of an RV32 ELF's loadable segments (file contents
    plus zero fill, at their physical addresses; ``zero_fill=False``: the file contents only,
    for programs whose start-up code clears ``.bss`` itself, as Dure's crt0 does).
    Raises :class:`UserError` for a bad file."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        with open(path, "rb") as file:
            elf = ELFFile(file)
            if elf.elfclass != 32 or elf["e_machine"] != "EM_RISCV":
                raise UserError(f"{path}: not an RV32 RISC-V ELF")
            segments = []
            for seg in elf.iter_segments():
                if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                    continue
                if not zero_fill:
                    if seg["p_filesz"]:
                        segments.append((seg["p_paddr"], seg.data()))
                    continue
                data = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])
                segments.append((seg["p_paddr"], data))
            return elf["e_entry"], sorted(segments)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (ELFError, OSError, struct.error) as error:
        raise UserError(f"{path}: not a readable ELF file ({error})") from None


class BoardLink:
    """A session with the boot loader on one serial port.

    Parameters
    ----------
    port : serial.Serial-like
        Needs ``read(n)`` (returning within a short timeout), ``write(data)`` and
        ``in_waiting``. :meth:`open` makes one from a device path or pyserial URL.
    timeout : float
        Seconds to wait for a reply before sending a command again.
    retries : int
        How many times a command is sent again before giving up.
    log : callable, optional
        Called with one-line progress messages.
    """

    #: :meth:`load` checks at most this many bytes with one ``CRC`` command, so that no reply
    #: takes the boot loader long to compute (a slow core, or a simulated board).
    crc_block = 2048

    def __init__(self, port, *, timeout=1.0, retries=8, log=None):
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.log = log or (lambda message: None)
        self.stats = Stats()
        self._decoder = FrameDecoder()
        self._pending = []          # received items not yet consumed (after a reply)
        self._seq = 0
        self._info = None
        self.exit_reports = []     # exit codes reported while not running a program

    @classmethod
    def open(cls, url, *, baud=115200, **kwargs):
        """Open a serial device (``/dev/ttyUSB0``) or pyserial URL (``socket://host:port``)."""
        try:
            import serial
        except ImportError:
            raise UserError("the host link needs pyserial: pip install pyserial") from None
        try:
            port = serial.serial_for_url(url, baudrate=baud, timeout=0.02)
        except (serial.SerialException, ValueError) as error:
            raise UserError(f"cannot open {url}: {error}") from None
        return cls(port, **kwargs)

    def close(self):
        self.port.close()

    # --- frames -------------------------------------------------------------------------------
    def _send(self, type_, seq, payload=b""):
        data = encode(type_, seq, payload)
        self.port.write(data)
        self.stats.bytes_sent += len(data)

    def _receive(self):
        """Items (frames, bytes) from one read of the port (which returns within its timeout)."""
        if self._pending:
            items, self._pending = self._pending, []
            return items
        data = self.port.read(max(1, min(4096, getattr(self.port, "in_waiting", 0) or 1)))
        items = self._decoder.feed(data) if data else []
        self.stats.bad_frames = self._decoder.bad
        return items

    def _ack_exit(self, frame):
        self._send(Type.ACK, 0)
        if len(frame.payload) == 4:
            self.exit_reports.append(struct.unpack("<I", frame.payload)[0])

    def command(self, type_, payload=b"", *, what=None):
        """Send one command until a valid reply comes; return the ``ACK`` payload.

        Raises :class:`LinkError` on ``ERR`` or after ``retries`` resends."""
        what = what or type_.name
        self._seq = (self._seq + 1) & 0xFF or 1      # 0 is the EXIT report's sequence
        seq = self._seq
        self.stats.commands += 1
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.resent += 1
            self._send(type_, seq, payload)
            deadline = time.monotonic() + self.timeout
            resend = False
            while not resend and time.monotonic() < deadline:
                items = self._receive()
                for index, item in enumerate(items):
                    if isinstance(item, bytes):
                        continue
                    if item.type == Type.EXIT:
                        self._ack_exit(item)
                    elif item.type == Type.NAK:
                        self.stats.naks += 1
                        resend = True
                    elif item.seq != seq:
                        continue                      # late reply to an earlier attempt
                    elif item.type == Type.ACK:
                        self._pending = items[index + 1:]
                        return item.payload
                    elif item.type == Type.ERR:
                        code = item.payload[0] if item.payload else 0
                        try:
                            name = Error(code).name
                        except ValueError:
                            name = f"code {code}"
                        raise LinkError(f"the boot loader refused {what}: {name}")
        raise LinkError(f"no valid reply to {what} after {self.retries + 1} attempts "
                        f"({self.timeout:g} s each): is the board running the Dure boot loader "
                        f"at the right baud rate?")

    # --- commands ------------------------------------------------------------------------------
    def ping(self):
        """Check the link; return the boot loader's :class:`~.protocol.Info`."""
        info = Info(self.command(Type.PING))
        self._info = info
        return info

    @property
    def info(self):
        return self._info or self.ping()

    def check_writable(self, addr, length, what):
        info = self.info
        ram_ok = info.ram_base <= addr and addr + length <= info.reserved_base
        main_ok = info.main_base <= addr and addr + length <= info.main_base + info.main_size
        if not (ram_ok or main_ok):
            raise LinkError(
                f"{what} at 0x{addr:08x}..0x{addr + length:08x} is outside loadable memory: RAM "
                f"0x{info.ram_base:08x}..0x{info.reserved_base:08x} (the boot loader keeps the "
                f"top {info.ram_base + info.ram_size - info.reserved_base} bytes) or main memory "
                f"0x{info.main_base:08x}..0x{info.main_base + info.main_size:08x}")

    def write(self, addr, data):
        """Write ``data`` at ``addr`` (in frames of at most MAX_PAYLOAD - 4 bytes)."""
        step = MAX_PAYLOAD - 4
        for offset in range(0, len(data), step):
            chunk = data[offset:offset + step]
            self.command(Type.WRITE, struct.pack("<I", addr + offset) + chunk,
                         what=f"WRITE 0x{addr + offset:08x}")

    def read(self, addr, length):
        """Read ``length`` bytes at ``addr``."""
        out = bytearray()
        while len(out) < length:
            n = min(MAX_PAYLOAD, length - len(out))
            data = self.command(Type.READ, struct.pack("<IH", addr + len(out), n),
                                what=f"READ 0x{addr + len(out):08x}")
            if len(data) != n:
                raise LinkError(f"READ 0x{addr + len(out):08x} returned {len(data)} bytes, "
                                f"asked for {n}")
            out += data
        return bytes(out)

    def crc(self, addr, length):
        """CRC-32 of ``length`` bytes at ``addr``, computed by the boot loader."""
        data = self.command(Type.CRC, struct.pack("<II", addr, length),
                            what=f"CRC 0x{addr:08x}")
        if len(data) != 4:
            raise LinkError(f"CRC reply has {len(data)} bytes")
        return struct.unpack("<I", data)[0]

    def load(self, addr, data, what="data"):
        """Write and verify one block (CRC-32 of every :attr:`crc_block` bytes of it)."""
        self.check_writable(addr, len(data), what)
        self.write(addr, data)
        for offset in range(0, len(data), self.crc_block):
            part = data[offset:offset + self.crc_block]
            got = self.crc(addr + offset, len(part))
            if got != crc32(part):
                raise LinkError(f"{what}: CRC of 0x{addr + offset:08x}..0x"
                                f"{addr + offset + len(part):08x} after loading is 0x{got:08x}, "
                                f"expected 0x{crc32(part):08x}")

    def go(self, entry):
        """Start the program at ``entry``; True if the start was acknowledged, False if the
        acknowledgement was lost and the boot loader no longer answers (the program runs)."""
        for _ in range(3):
            try:
                self.command(Type.GO, struct.pack("<I", entry), what="GO")
                return True
            except LinkError as error:
                if "refused" in str(error):
                    raise
            # No valid acknowledgement: is the boot loader still there? If so, start again.
            saved = self.retries
            self.retries = 1
            try:
                self.ping()
            except LinkError:
                return False
            finally:
                self.retries = saved
        raise LinkError("GO was never acknowledged although the boot loader keeps answering")

    def wait_exit(self, *, timeout=None, on_output=None, first=b""):
        """Relay program output until the boot loader reports the exit; return (code or None,
        output)."""
        output = bytearray()

        def emit(data):
            output.extend(data)
            if on_output:
                on_output(data)

        deadline = None if timeout is None else time.monotonic() + timeout
        if first:
            emit(first)
        while deadline is None or time.monotonic() < deadline:
            items = self._receive()
            for index, item in enumerate(items):
                if isinstance(item, bytes):
                    emit(item)
                elif item.type == Type.EXIT and len(item.payload) == 4:
                    self._send(Type.ACK, 0)
                    self._pending = items[index + 1:]
                    return struct.unpack("<I", item.payload)[0], bytes(output)
        emit(self._decoder.flush())
        return None, bytes(output)

    def run(self, entry, *, timeout=None, on_output=None):
        """GO, then :meth:`wait_exit`; return a :class:`RunResult`."""
        start = time.monotonic()
        confirmed = self.go(entry)
        code, output = self.wait_exit(timeout=timeout, on_output=on_output)
        return RunResult(code, output, time.monotonic() - start, confirmed)

    def run_elf(self, path, *, data=(), timeout=None, on_output=None):
        """Load an ELF (and ``data``: ``(address, bytes)`` blobs), verify, run; RunResult."""
        entry, segments = elf_segments(path)
        info = self.ping()
        if info.max_payload < MAX_PAYLOAD:
            raise LinkError(f"the boot loader takes at most {info.max_payload}-byte payloads")
        for addr, blob in segments:
            self.log(f"loading {len(blob)} bytes at 0x{addr:08x}")
            self.load(addr, blob, what=f"segment at 0x{addr:08x}")
        for addr, blob in data:
            self.log(f"loading {len(blob)} data bytes at 0x{addr:08x}")
            self.load(addr, blob, what=f"data blob at 0x{addr:08x}")
        self.log(f"starting at 0x{entry:08x}")
        return self.run(entry, timeout=timeout, on_output=on_output)

    def run_job(self, path, *, data=(), dumps=(), timeout=None, on_output=None):
        """Load an ELF (its file contents: the program's start-up code must clear ``.bss``)
        and ``data`` (``(address, bytes)``; each range written and CRC-checked), run it, and
        after the exit read ``dumps`` (``(address, length)``) back; return a
        :class:`JobResult`. After a timeout nothing is read (the program still runs)."""
        start = time.monotonic()
        entry, segments = elf_segments(path, zero_fill=False)
        info = self.ping()
        if info.max_payload < MAX_PAYLOAD:
            raise LinkError(f"the boot loader takes at most {info.max_payload}-byte payloads")
        loaded = 0
        for addr, blob in [*segments, *data]:
            self.log(f"loading {len(blob)} bytes at 0x{addr:08x}")
            self.load(addr, blob, what=f"range 0x{addr:08x}..0x{addr + len(blob):08x}")
            loaded += len(blob)
        self.log(f"starting at 0x{entry:08x}")
        ran = time.monotonic()
        result = self.run(entry, timeout=timeout, on_output=on_output)
        read = time.monotonic()
        out = {}
        if result.exit_code is not None:
            for addr, length in dumps:
                self.log(f"reading {length} bytes at 0x{addr:08x}")
                out[(addr, length)] = self.read(addr, length)
        return JobResult(result.exit_code, result.output, out, ran - start, read - ran,
                         time.monotonic() - read, loaded, sum(len(v) for v in out.values()))
