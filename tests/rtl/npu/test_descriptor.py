"""Descriptor field table: fields never overlap (but declared aliases), encode/decode round-trip,
bad values refused."""

import random

import pytest
from dure.rtl.npu.commands import DESCRIPTOR_WORDS, Opcode
from dure.rtl.npu.descriptor import FIELDS, decode, encode, reserved_masks

#: Second names for (some of) the bits of another field (LOAD w5: a fill's value, an INT4_FP16
#: LOAD's scale address; ELTWISE w2 [15:0]: a pair MAC's tap_step, in mult_a's word; w7
#: [15:0]: an init_row MAC's init_addr, in mult_b's); every other field has bits of its own.
ALIASES = {Opcode.LOAD: {"scale_addr": "fill_value"},
           Opcode.ELTWISE: {"tap_step": "mult_a", "init_addr": "mult_b"}}


def _alias_value(opcode, alias, field, value):
    """The value ``alias`` decodes to when ``field`` holds ``value``."""
    a, f = FIELDS[opcode][alias], FIELDS[opcode][field]
    return (value >> (a.lsb - f.lsb)) & ((1 << a.width) - 1)


@pytest.mark.parametrize("opcode", list(Opcode))
def test_fields_do_not_overlap_and_fit(opcode):
    used = [0xF] + [0] * (DESCRIPTOR_WORDS - 1)   # the opcode field
    aliases = ALIASES.get(opcode, {})
    for alias, field in aliases.items():         # inside the other field's bits
        a, f = FIELDS[opcode][alias], FIELDS[opcode][field]
        assert a.word == f.word and not a.mask & ~f.mask and a.signed == f.signed, alias
    for name, field in FIELDS[opcode].items():
        assert 0 <= field.word < DESCRIPTOR_WORDS and field.lsb + field.width <= 32, name
        if name in aliases:
            continue
        assert not used[field.word] & field.mask, f"{opcode.name}.{name} overlaps"
        used[field.word] |= field.mask
    assert [u | r for u, r in zip(used, reserved_masks(opcode), strict=True)] == \
        [0xFFFF_FFFF] * DESCRIPTOR_WORDS


@pytest.mark.parametrize("opcode", list(Opcode))
def test_round_trip(opcode):
    rng = random.Random(opcode.value)
    for _ in range(200):
        values = {}
        aliases = ALIASES.get(opcode, {})
        for name, f in FIELDS[opcode].items():
            if name not in aliases:
                values[name] = (rng.randrange(-(1 << (f.width - 1)), 1 << (f.width - 1))
                                if f.signed else rng.randrange(1 << f.width))
        got_opcode, got = decode(encode(opcode, **values))
        assert got_opcode is opcode
        assert got == {**values, **{a: _alias_value(opcode, a, f, values[f])
                                    for a, f in aliases.items()}}


def test_bad_fields_and_values():
    with pytest.raises(KeyError, match="LOAD has no field 'm'"):
        encode(Opcode.LOAD, m=1)
    with pytest.raises(ValueError, match="does not fit in 16 bits"):
        encode(Opcode.LOAD, rows=1 << 16)
    with pytest.raises(ValueError, match="does not fit in 8 signed bits"):
        encode(Opcode.STORE, zero_point=128)
    assert decode([0] * DESCRIPTOR_WORDS) == (0, {})
    assert decode([0xF] + [0] * 7) == (15, {})
    assert encode(Opcode.STORE, lo=-128)[5] == 0xFFFF_FF80
