"""The command model's main memory (sim/npu_model_memory.py): regions copied, reads and
writes inside one region, ``contains`` false across or outside regions, overlapping regions
refused, an access outside them an error; importable from dure.sim.npu_model as before."""

import pytest
from dure.sim import npu_model
from dure.sim.npu_model_memory import RegionMemory


def test_read_write_inside_regions():
    source = bytearray(range(16))
    mem = RegionMemory({0x100: source, 0x200: bytes(8)})
    source[0] = 99                                   # the model holds a copy
    assert mem.read(0x100, 4) == bytes([0, 1, 2, 3])
    mem.write(0x204, b"\xaa\xbb")
    assert mem.read(0x200, 8) == bytes([0, 0, 0, 0, 0xAA, 0xBB, 0, 0])
    assert mem.contains(0x100, 16) and mem.contains(0x207, 1)
    assert not mem.contains(0x10F, 2)                # runs past the region's end
    assert not mem.contains(0x110, 0x100)            # across the gap between regions
    assert not mem.contains(0xFF, 1)


def test_outside_access_and_overlap_refused():
    mem = RegionMemory({0x100: bytes(16)})
    with pytest.raises(ValueError, match="not inside the model's memory"):
        mem.read(0x10E, 4)
    with pytest.raises(ValueError, match="not inside"):
        mem.write(0x50, b"\x00")
    with pytest.raises(ValueError, match="overlap"):
        RegionMemory({0x100: bytes(16), 0x108: bytes(4)})


def test_importable_from_npu_model():
    assert npu_model.RegionMemory is RegionMemory
