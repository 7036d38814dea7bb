"""The lock-step comparison finds injected differences (it can fail) and ignores don't-cares."""

import dataclasses

import pytest
from dure.sim.diff.assemble import assemble
from dure.sim.diff.compare import compare, lane_mask
from dure.sim.diff.generator import generate
from dure.sim.diff.reference import run_reference
from dure.sim.diff.trace import TraceFormatError, format_record, parse_trace, read_trace


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    return run_reference(assemble(generate(11, 300), tmp_path_factory.mktemp("cmp"))).records


def copy(records):
    return [dataclasses.replace(r) for r in records]


def first(records, predicate):
    return next(i for i, r in enumerate(records) if predicate(r))


def test_identical_traces_match(ref, tmp_path):
    path = tmp_path / "soc.trace"
    path.write_text("".join(format_record(r) + "\n" for r in ref))
    dut = read_trace(path)
    assert compare(ref, dut) is None
    # The SoC keeps retiring the spin loop after the exit store: extra records are fine.
    assert compare(ref, dut + [dataclasses.replace(ref[-1])]) is None


@pytest.mark.parametrize("field, pick", [
    ("rd_wdata", lambda r: r.rd_addr != 0),
    ("rd_addr", lambda r: r.rd_addr != 0),
    ("pc", lambda r: True),
    ("insn", lambda r: True),
    ("pc_wdata", lambda r: r.insn & 0x7F == 0x63),
    ("mem_addr", lambda r: r.mem_wmask != 0),
    ("mem_wmask", lambda r: r.mem_wmask != 0),
    ("mem_rmask", lambda r: r.mem_rmask != 0),
])
def test_injected_difference_is_reported(ref, field, pick):
    dut = copy(ref)
    index = first(dut[10:], pick) + 10
    setattr(dut[index], field, getattr(dut[index], field) ^ 1)
    mismatch = compare(ref, dut)
    assert mismatch is not None and mismatch.index == index
    assert field in mismatch.fields
    report = mismatch.report()
    assert f"mismatch at instruction {index}: " in report
    assert f"{field}: expected 0x{getattr(ref[index], field):08x}" in report
    assert len(mismatch.context) == 4 and mismatch.context[-1] is ref[index - 1]


def test_data_lanes(ref):
    index = first(ref, lambda r: r.mem_wmask not in (0, 0xF))
    dut = copy(ref)
    dut[index].mem_wdata ^= ~lane_mask(ref[index].mem_wmask) & 0xFFFF_FFFF  # don't-care lanes
    assert compare(ref, dut) is None
    dut[index].mem_wdata ^= lane_mask(ref[index].mem_wmask) & 0x0101_0101    # written lanes
    assert compare(ref, dut).fields == ["mem_wdata"]
    index = first(ref, lambda r: r.mem_rmask not in (0, 0xF))
    dut = copy(ref)
    dut[index].mem_rdata ^= lane_mask(ref[index].mem_rmask) & 0x8080_8080
    assert compare(ref, dut).fields == ["mem_rdata"]


def test_no_memory_address_without_access(ref):
    dut = copy(ref)
    index = first(ref, lambda r: not (r.mem_rmask or r.mem_wmask))
    dut[index].mem_addr = 0x1234
    assert compare(ref, dut) is None


def test_trap_and_short_trace(ref):
    dut = copy(ref)
    dut[5].trap = 1
    assert compare(ref, dut).fields == ["trap"]
    mismatch = compare(ref, ref[:-1])
    assert mismatch.fields == ["missing"] and mismatch.index == len(ref) - 1
    assert "(trace ended)" in mismatch.report()


def test_trace_text_corruption_is_found(ref, tmp_path):
    lines = [format_record(r) for r in ref]
    index = first(ref, lambda r: r.rd_addr != 0 and r.rd_wdata != 0xFFFF_FFFF)
    fields = lines[index].split()
    fields[5] = f"{int(fields[5], 16) + 1:x}"
    lines[index] = " ".join(fields)
    mismatch = compare(ref, parse_trace(lines))
    assert mismatch.index == index and mismatch.fields == ["rd_wdata"]


def test_malformed_trace_lines():
    with pytest.raises(TraceFormatError, match="t:2: expected 12 hex fields, got 3"):
        parse_trace(["", "1 2 3"], source="t")
    with pytest.raises(TraceFormatError, match="t:1: not hexadecimal"):
        parse_trace(["zz " * 12], source="t")
