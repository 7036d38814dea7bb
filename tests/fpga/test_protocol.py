"""The boot-link frame format: encoding, incremental decoding through noise, the C header."""

import struct
import zlib

import pytest
from dure.fpga.protocol import (
    HEADER_SIZE,
    MAX_PAYLOAD,
    SOF,
    Frame,
    FrameDecoder,
    Info,
    Type,
    c_header,
    crc32,
    encode,
    mailbox_offsets,
)

from dure.config import preset


def test_encode_layout():
    data = encode(Type.WRITE, 7, b"\x01\x02\x03")
    assert data[:2] == SOF
    assert data[2:HEADER_SIZE] == bytes([Type.WRITE, 7, 3, 0])
    assert data[HEADER_SIZE:-4] == b"\x01\x02\x03"
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[2:-4])


def test_encode_limits():
    with pytest.raises(ValueError, match="MAX_PAYLOAD"):
        encode(Type.WRITE, 1, bytes(MAX_PAYLOAD + 1))
    with pytest.raises(ValueError, match="sequence"):
        encode(Type.PING, 256)


def test_decode_byte_by_byte_with_noise():
    stream = (b"hello" + encode(Type.ACK, 3, b"xyz") + b"\xa5world"
              + encode(Type.EXIT, 0, b"\1\0\0\0"))
    decoder = FrameDecoder()
    items = []
    for byte in stream:
        items += decoder.feed(bytes([byte]))
    frames = [i for i in items if isinstance(i, Frame)]
    noise = b"".join(i for i in items if isinstance(i, bytes))
    assert frames == [Frame(Type.ACK, 3, b"xyz"), Frame(Type.EXIT, 0, b"\1\0\0\0")]
    assert noise == b"hello\xa5world"
    assert decoder.bad == 0


def test_decode_keeps_order_of_frames_and_data():
    stream = encode(Type.ACK, 1) + b"out" + encode(Type.EXIT, 0, b"\3\0\0\0") + b"more"
    items = FrameDecoder().feed(stream)
    assert items == [Frame(Type.ACK, 1), b"out", Frame(Type.EXIT, 0, b"\3\0\0\0"), b"more"]


@pytest.mark.parametrize("position", range(2, 14))
def test_corrupted_frame_is_rejected_and_next_found(position):
    bad = bytearray(encode(Type.ACK, 9, b"abcd"))
    bad[position] ^= 0x10
    good = encode(Type.ACK, 10, b"ok")
    decoder = FrameDecoder()
    # A corrupted length may make the decoder wait for more bytes: later traffic resolves it.
    items = decoder.feed(bytes(bad) + good) + decoder.feed(bytes(MAX_PAYLOAD + 16))
    frames = [i for i in items if isinstance(i, Frame)]
    assert frames[-1] == Frame(Type.ACK, 10, b"ok")
    assert Frame(Type.ACK, 9, b"abcd") not in frames
    assert decoder.bad >= 1


def test_oversized_length_is_noise():
    decoder = FrameDecoder()
    junk = SOF + bytes([Type.ACK, 0]) + struct.pack("<H", MAX_PAYLOAD + 1)
    items = decoder.feed(junk + encode(Type.NAK, 0, b"\1"))
    assert items[-1] == Frame(Type.NAK, 0, b"\1")
    assert decoder.bad == 1


def test_partial_frame_held_then_flushed():
    decoder = FrameDecoder()
    frame = encode(Type.ACK, 1, b"abc")
    assert decoder.feed(frame[:5]) == []
    assert decoder.flush() == frame[:5]


def test_info_fields():
    payload = struct.pack("<BBHIIIIII", 1, 0, 512, 50_000_000, 0x8000_0000, 1 << 17,
                          0x4000_0000, 1 << 16, 0x8001_f800)
    info = Info(payload)
    assert (info.version, info.max_payload, info.reserved_base) == (1, 512, 0x8001_f800)
    with pytest.raises(ValueError):
        Info(payload[:-1])


def test_crc32_matches_zlib():
    assert crc32(b"123456789") == 0xCBF43926


def test_c_header_carries_the_numbers():
    config = preset("ulx3s")
    text = c_header(config)
    magic, code = mailbox_offsets(config.rom_size)
    assert f"#define BOOT_MAILBOX_CODE_ADDR 0x{code:08X}u" in text
    assert f"#define BOOT_MAX_PAYLOAD {MAX_PAYLOAD}u" in text
    assert f"#define BOOT_T_GO 0x{Type.GO:02X}u" in text
    ram_top = config.region("ram").end
    assert f"#define BOOT_RESERVED_BASE 0x{ram_top - 2048:08X}u" in text
