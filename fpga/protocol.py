"""The Dure boot-link protocol: host tool <-> UART boot loader in the boot ROM.

This module is the one description of the protocol. The host tool (:mod:`dure.fpga.link`)
imports it; the boot loader (``firmware/boot/``) includes the C header that
:func:`c_header` generates from it at build time, so no number is written twice.

Frames (both directions)
------------------------
======  ====  ==========================================================================
offset  size  field
======  ====  ==========================================================================
0       2     start of frame ``0xA5 0x5A``
2       1     type (:class:`Type`)
3       1     sequence number (host: 0..255, incremented per command; a reply carries the
              sequence number of the command it answers)
4       2     payload length n, little endian, 0..:data:`MAX_PAYLOAD`
6       n     payload
6+n     4     CRC-32 (IEEE 802.3, as ``zlib.crc32``) of bytes 2 .. 6+n-1, little endian
======  ====  ==========================================================================

A receiver hunts for the start bytes, reads the header, and discards the frame when the length
is too large, the CRC does not match, the UART reported an overrun or framing error while the
frame arrived, or no byte came for :data:`BYTE_TIMEOUT_MS` in the middle of a frame. The boot
loader answers a discarded frame with ``NAK`` (when it saw at least a header); a discarded reply
is simply never seen by the host, whose wait times out.

Commands (host -> boot loader) and their ``ACK`` payloads
----------------------------------------------------------
``PING``  (empty) -> :data:`INFO_FORMAT` (protocol version, max payload, clock, RAM and main
memory windows, the RAM the boot loader reserves for itself).
``WRITE`` (u32 address, bytes) -> empty. Writes the bytes; the range must lie inside on-chip RAM
below the reserved area, or inside main memory.
``READ``  (u32 address, u16 length <= MAX_PAYLOAD) -> the bytes (RAM, main memory or ROM).
``CRC``   (u32 address, u32 length) -> u32 CRC-32 of that memory range (the host checks every
loaded segment this way before starting the program).
``GO``    (u32 entry) -> empty; the boot loader sends the ``ACK``, waits until it is on the
wire, and jumps to ``entry`` with interrupts off.

Every command is idempotent, so the host may repeat any command whose reply it did not get.
A command that is understood but not allowed gets ``ERR`` with an :class:`Error` code and is
never repeated by the host (it reports the error).

After ``GO`` the UART carries the program's own output, raw and unframed (exactly what the
program prints). When the program writes the test-exit register, the board's exit mailbox
(:mod:`dure.fpga.mailbox`) holds the core, stores the code in the last words of the boot ROM
and restarts the core in the boot loader, which sends ``EXIT`` (u32 exit code, seq = 0) until the
host answers with an ``ACK`` frame of sequence 0 (at most :data:`EXIT_RETRIES` times, every
:data:`EXIT_RETRY_MS`), then serves commands again (so results can be read back with ``READ``).

Retries on the host: a command without a valid reply within the timeout, or answered with
``NAK``, is sent again, up to ``retries`` times; then the host stops with an error naming the
command. Nothing is lost or corrupted silently: every loaded range is checked with ``CRC``.
"""

import enum
import struct
import zlib

__all__ = [
    "SOF", "HEADER_SIZE", "TRAILER_SIZE", "MAX_PAYLOAD", "VERSION", "Type", "Error", "Frame",
    "encode", "FrameDecoder", "crc32", "INFO_FORMAT", "Info", "MAILBOX_MAGIC", "mailbox_offsets",
    "BOOT_RESERVED", "BYTE_TIMEOUT_MS", "EXIT_RETRIES", "EXIT_RETRY_MS", "c_header",
]

#: Start-of-frame bytes.
SOF = b"\xa5\x5a"
#: Bytes before the payload (start, type, seq, length).
HEADER_SIZE = 6
#: Bytes after the payload (CRC-32).
TRAILER_SIZE = 4
#: Largest payload in either direction.
MAX_PAYLOAD = 512
#: Protocol version reported by PING.
VERSION = 1
#: Bytes at the top of on-chip RAM used by the boot loader (stack and receive buffer); loads
#: there are refused.
BOOT_RESERVED = 2048
#: The boot loader drops a frame when no byte arrives for this long in the middle of it.
BYTE_TIMEOUT_MS = 50
#: How often and how many times the boot loader repeats an unacknowledged EXIT frame.
EXIT_RETRY_MS = 200
EXIT_RETRIES = 10
#: Value of the mailbox's first word while it holds an exit code (ASCII "EXIT").
MAILBOX_MAGIC = 0x54495845


class Type(enum.IntEnum):
    """Frame types. Host commands are below 0x80, boot-loader replies and reports above."""

    PING = 0x01
    WRITE = 0x02
    READ = 0x03
    CRC = 0x04
    GO = 0x05
    ACK = 0x80     # also sent by the host to acknowledge EXIT
    NAK = 0x81
    ERR = 0x82
    EXIT = 0x83


class Error(enum.IntEnum):
    """Codes in the one-byte payload of ``NAK`` and ``ERR`` frames."""

    BAD_CRC = 1        # NAK: CRC mismatch
    TOO_LONG = 2       # NAK: length field above MAX_PAYLOAD
    TIMEOUT = 3        # NAK: the frame stopped in the middle
    LINE = 4           # NAK: UART overrun or framing error during the frame
    BAD_TYPE = 16      # ERR: unknown command
    BAD_LENGTH = 17    # ERR: payload length wrong for the command
    BAD_ADDRESS = 18   # ERR: range outside the allowed memories, or not word aligned for GO


#: PING reply: version u8, reserved u8, max payload u16, clk_freq, ram base, ram size,
#: main base, main size, start of the boot loader's reserved RAM (all u32, little endian).
INFO_FORMAT = "<BBHIIIIII"


class Info(tuple):
    """Decoded PING reply, fields named as in :data:`INFO_FORMAT`."""

    FIELDS = ("version", "reserved", "max_payload", "clk_freq", "ram_base", "ram_size",
              "main_base", "main_size", "reserved_base")

    def __new__(cls, payload):
        if len(payload) != struct.calcsize(INFO_FORMAT):
            raise ValueError(f"PING reply has {len(payload)} bytes, expected "
                             f"{struct.calcsize(INFO_FORMAT)}")
        return super().__new__(cls, struct.unpack(INFO_FORMAT, payload))

    def __getattr__(self, name):
        try:
            return self[self.FIELDS.index(name)]
        except ValueError:
            raise AttributeError(name) from None


def crc32(data, value=0):
    """CRC-32 as used in frames (``zlib.crc32``: reflected polynomial 0xEDB88320)."""
    return zlib.crc32(data, value) & 0xFFFF_FFFF


class Frame(tuple):
    """A decoded frame: ``(type, seq, payload)``; ``type`` is an int (a :class:`Type` when
    known)."""

    def __new__(cls, type, seq, payload=b""):
        return super().__new__(cls, (type, seq, bytes(payload)))

    type = property(lambda self: self[0])
    seq = property(lambda self: self[1])
    payload = property(lambda self: self[2])


def encode(type, seq, payload=b""):
    """The bytes of one frame."""
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD {MAX_PAYLOAD}")
    if not 0 <= seq <= 255:
        raise ValueError(f"sequence number must be 0..255, not {seq}")
    body = struct.pack("<BBH", int(type), seq, len(payload)) + payload
    return SOF + body + struct.pack("<I", crc32(body))


class FrameDecoder:
    """Incremental frame parser for a byte stream that may hold other bytes between frames.

    :meth:`feed` takes any chunk of received bytes and returns, in stream order, the complete
    CRC-checked frames (:class:`Frame`) and the runs of bytes that are not part of a valid frame
    (``bytes``: the program's own output after ``GO`` arrives this way, or line noise). A frame
    with a bad CRC or length is counted in :attr:`bad` and its first byte is passed on as
    non-frame data; the hunt restarts one byte later, so a frame hidden in noise is still found.
    Bytes that may start a frame are held back until the frame is complete or proven invalid.
    """

    def __init__(self):
        self._buffer = bytearray()
        self.bad = 0

    def feed(self, data):
        self._buffer += data
        items = []
        buf = self._buffer

        def other(n):
            if n:
                if items and isinstance(items[-1], bytes):
                    items[-1] += bytes(buf[:n])
                else:
                    items.append(bytes(buf[:n]))
                del buf[:n]

        while True:
            start = buf.find(SOF)
            if start < 0:
                other(len(buf) - (1 if buf.endswith(SOF[:1]) else 0))
                return items
            other(start)
            if len(buf) < HEADER_SIZE:
                return items
            type_, seq, length = struct.unpack_from("<BBH", buf, 2)
            if length > MAX_PAYLOAD:
                self.bad += 1
                other(1)
                continue
            end = HEADER_SIZE + length + TRAILER_SIZE
            if len(buf) < end:
                return items
            (crc,) = struct.unpack_from("<I", buf, end - TRAILER_SIZE)
            if crc != crc32(bytes(buf[2:end - TRAILER_SIZE])):
                self.bad += 1
                other(1)
                continue
            try:
                type_ = Type(type_)
            except ValueError:
                pass
            items.append(Frame(type_, seq, bytes(buf[HEADER_SIZE:end - TRAILER_SIZE])))
            del buf[:end]

    def flush(self):
        """Bytes held back (a possible frame start that never completed), now as data."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def mailbox_offsets(rom_size):
    """Byte offsets in the boot ROM of the exit mailbox's magic word and exit-code word (the
    last two words of the ROM; the boot loader's code must end before them)."""
    return rom_size - 8, rom_size - 4


def c_header(config):
    """The C header of protocol constants for the boot loader, for one SoC variant."""
    magic_off, code_off = mailbox_offsets(config.rom_size)
    ram_top = config.region("ram").end
    lines = [
        "/* Generated by dure.fpga.protocol.c_header: do not edit. */",
        "#ifndef DURE_BOOT_PROTOCOL_H",
        "#define DURE_BOOT_PROTOCOL_H",
        f"#define BOOT_SOF0 0x{SOF[0]:02X}u",
        f"#define BOOT_SOF1 0x{SOF[1]:02X}u",
        f"#define BOOT_HEADER_SIZE {HEADER_SIZE}u",
        f"#define BOOT_TRAILER_SIZE {TRAILER_SIZE}u",
        f"#define BOOT_MAX_PAYLOAD {MAX_PAYLOAD}u",
        f"#define BOOT_VERSION {VERSION}u",
        f"#define BOOT_RESERVED_BASE 0x{ram_top - BOOT_RESERVED:08X}u",
        f"#define BOOT_BYTE_TIMEOUT_CYCLES {config.clk_freq // 1000 * BYTE_TIMEOUT_MS}u",
        f"#define BOOT_EXIT_RETRY_CYCLES {config.clk_freq // 1000 * EXIT_RETRY_MS}u",
        f"#define BOOT_EXIT_RETRIES {EXIT_RETRIES}u",
        f"#define BOOT_MAILBOX_MAGIC_ADDR 0x{config.region('rom').base + magic_off:08X}u",
        f"#define BOOT_MAILBOX_CODE_ADDR 0x{config.region('rom').base + code_off:08X}u",
        f"#define BOOT_MAILBOX_MAGIC 0x{MAILBOX_MAGIC:08X}u",
    ]
    lines += [f"#define BOOT_T_{t.name} 0x{t.value:02X}u" for t in Type]
    lines += [f"#define BOOT_E_{e.name} {e.value}u" for e in Error]
    lines += ["#endif", ""]
    return "\n".join(lines)
