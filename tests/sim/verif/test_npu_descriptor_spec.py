"""The RTL's descriptor field table and reserved masks against the hand-written statement of
the documented layout (:mod:`dure.sim.verif.npu_descriptor_spec`)."""

import pytest
from dure.rtl.npu import commands
from dure.rtl.npu.descriptor import FIELDS, encode, reserved_masks
from dure.sim.verif import npu_descriptor_spec as spec


def test_opcodes_and_size():
    assert commands.DESCRIPTOR_WORDS == spec.DESCRIPTOR_WORDS
    assert {op.name: op.value for op in commands.Opcode} == spec.OPCODES


@pytest.mark.parametrize("command", list(spec.LAYOUT))
def test_fields_as_documented(command):
    opcode = commands.Opcode[command]
    table = {name: (f.word, f.lsb + f.width - 1, f.lsb) for name, f in FIELDS[opcode].items()}
    assert table == spec.LAYOUT[command]
    assert {n for n, f in FIELDS[opcode].items() if f.signed} == spec.SIGNED.get(command, set())
    for alias, field in spec.ALIASES.get(command, {}).items():
        assert FIELDS[opcode][alias] == FIELDS[opcode][field]


@pytest.mark.parametrize("command", list(spec.LAYOUT))
def test_reserved_bits_as_documented(command):
    """Every bit the documentation does not name is reserved (the validator refuses it)."""
    masks = reserved_masks(commands.Opcode[command])
    documented = spec.documented_bits(command)
    assert [m ^ 0xFFFF_FFFF for m in masks] == documented


@pytest.mark.parametrize("command", list(spec.LAYOUT))
def test_encode_puts_each_field_where_documented(command):
    """encode() of one field at all ones sets exactly the documented bits (and the opcode)."""
    opcode = commands.Opcode[command]
    for name, (word, msb, lsb) in spec.LAYOUT[command].items():
        ones = -1 if name in spec.SIGNED.get(command, ()) else (1 << (msb - lsb + 1)) - 1
        words = encode(opcode, **{name: ones})
        want = [0] * spec.DESCRIPTOR_WORDS
        want[0] = spec.OPCODES[command]
        want[word] |= ((1 << (msb - lsb + 1)) - 1) << lsb
        assert list(words) == want, name


def test_documented_bits_refuses_unknown_command():
    with pytest.raises(ValueError, match="unknown command 'MATMUL'"):
        spec.documented_bits("MATMUL")


def test_a_moved_field_is_caught():
    """The comparison sees a field one bit off (the statement, altered, no longer matches)."""
    moved = dict(spec.LAYOUT["COMPUTE"], k=(4, 24, 17))
    table = {n: (f.word, f.lsb + f.width - 1, f.lsb)
             for n, f in FIELDS[commands.Opcode.COMPUTE].items()}
    assert table != moved
