"""Descriptor fields as data: where each field of each command lives, and pack / unpack helpers.

:data:`FIELDS` is the one table of field positions (the prose is in :mod:`.commands`). The
command processor's decoder, the golden command model, the C header generator and the tests all
read it, so a field moves in one place only. Every bit of a descriptor that no field of its
opcode covers is reserved and must be zero (:func:`reserved_masks`).
"""

from typing import NamedTuple

from amaranth.lib import data

from .commands import DESCRIPTOR_WORDS, Opcode

__all__ = ["Field", "FIELDS", "DESCRIPTOR_LAYOUT", "ENTRY_TAG_LAYOUT", "encode", "decode",
           "list_bytes", "reserved_masks", "command_layout", "unpack_fields"]

#: Layout of one descriptor in hardware: :data:`~.commands.DESCRIPTOR_WORDS` words of 32 bits.
DESCRIPTOR_LAYOUT = data.ArrayLayout(32, DESCRIPTOR_WORDS)

#: Where a descriptor entering the validator came from (travels beside it to the dispatcher's
#: front): ``in_list`` it is entry ``index`` of a LIST (a LIST entry that is a LIST is
#: refused); ``fault`` the fetch of that entry failed (the front records ``BUS_ERROR`` and
#: retires it and the ``skip`` entries after it, which are never fetched).
ENTRY_TAG_LAYOUT = data.StructLayout({"in_list": 1, "fault": 1, "index": 16, "skip": 16})


class Field(NamedTuple):
    """A field: ``width`` bits of descriptor word ``word`` starting at bit ``lsb``.

    ``signed`` fields are two's complement (decode returns a negative int where the top bit is
    set; encode accepts negative values).
    """

    word: int
    lsb: int
    width: int
    signed: bool = False

    @property
    def mask(self):
        return ((1 << self.width) - 1) << self.lsb


_OPCODE = Field(0, 0, 4)

#: Fields of each opcode (besides ``opcode`` itself, which is word 0 bits 3:0 for all).
FIELDS = {
    Opcode.LOAD: {
        "target": Field(0, 4, 2),
        "elem": Field(0, 6, 2),
        "broadcast": Field(0, 8, 1),
        "fill": Field(0, 9, 1),
        "weight_format": Field(0, 10, 3),
        # Lane-grouped 2:4: write the kept values with their 2-bit positions (tagged lanes).
        "keep": Field(0, 13, 1),
        "dram_addr": Field(1, 0, 32),
        "dram_stride": Field(2, 0, 32),
        "rows": Field(3, 0, 16),
        "cols": Field(3, 16, 16),
        "local_addr": Field(4, 0, 16),
        # Raw 32-bit word: the lane value of a fill LOAD (see load_cmd.py).
        "fill_value": Field(5, 0, 32),
        # The same word read as the fp16 scales' address of an INT4_FP16 LOAD.
        "scale_addr": Field(5, 0, 32),
        "local_cols": Field(6, 0, 16),
        "local_groups": Field(6, 16, 16),
        "local_row_step": Field(7, 0, 16),
    },
    Opcode.COMPUTE: {
        "precision": Field(0, 4, 1),
        "dataflow": Field(0, 5, 1),
        "accumulate": Field(0, 6, 1),
        "diagonal": Field(0, 7, 1),
        # Column n takes only the A lanes whose tag (bits 9:8) is n (2:4 MAC skipping).
        "gather": Field(0, 8, 1),
        "init_row": Field(0, 9, 1),          # every row starts from ACC row init_addr
        "a_addr": Field(1, 0, 16),
        "w_addr": Field(2, 0, 16),
        "acc_addr": Field(3, 0, 16),
        "m": Field(4, 0, 16),
        "k": Field(4, 16, 8),
        "n": Field(4, 24, 8),
        "a_cols": Field(5, 0, 16),
        "a_rows": Field(5, 16, 16),
        "a_col_step": Field(6, 0, 16),
        "a_row_step": Field(6, 16, 16),
        "init_addr": Field(7, 0, 16),
    },
    Opcode.STORE: {
        "out": Field(0, 4, 2),
        "acc_type": Field(0, 6, 1),
        "scale": Field(0, 7, 1),
        "clamp": Field(0, 8, 1),
        "requant": Field(0, 9, 2),
        # Per-row parameters for a column of channels (the GEMV plan's outputs).
        "lane_scales": Field(0, 11, 1),
        # The output value of a row is the int32 sum of its lanes 0..3 (after a gather).
        "lane_sum": Field(0, 12, 1),
        "zero_point": Field(0, 16, 8, signed=True),
        "dram_addr": Field(1, 0, 32),
        "dram_stride": Field(2, 0, 32),
        "rows": Field(3, 0, 16),
        "cols": Field(3, 16, 16),
        "acc_addr": Field(4, 0, 16),
        "scale_addr": Field(4, 16, 16),
        # Raw 32-bit words: int32 for INT8 output, fp32 bits otherwise (see store_cmd.py).
        "lo": Field(5, 0, 32),
        "hi": Field(6, 0, 32),
    },
    Opcode.FENCE: {
        "irq": Field(0, 4, 1),
    },
    Opcode.ELTWISE: {
        "precision": Field(0, 4, 1),
        "op": Field(0, 5, 1),
        "accumulate": Field(0, 6, 1),
        "mac": Field(0, 7, 1),               # per-lane multiply-accumulate (dwpool)
        "reduce": Field(0, 8, 1),            # MAC: every row into ACC row acc_addr
        "pair": Field(0, 9, 1),              # MAC: two taps per row (a(i), a(i) + tap_step)
        "init_row": Field(0, 10, 1),         # MAC: every row starts from ACC row init_addr
        "zp_a": Field(0, 16, 8, signed=True),
        "zp_b": Field(0, 24, 8, signed=True),
        "a_addr": Field(1, 0, 16),
        "b_addr": Field(1, 16, 16),
        "mult_a": Field(2, 0, 32),           # int32 bits
        # The same word's bits 15:0 read as the second tap's row offset of a pair MAC.
        "tap_step": Field(2, 0, 16),
        "acc_addr": Field(3, 0, 16),
        "rshift_a": Field(3, 16, 5),
        "rshift_b": Field(3, 24, 5),
        "m": Field(4, 0, 16),
        "n": Field(4, 24, 8),
        "a_cols": Field(5, 0, 16),
        "a_rows": Field(5, 16, 16),
        "a_col_step": Field(6, 0, 16),
        "a_row_step": Field(6, 16, 16),
        "mult_b": Field(7, 0, 32),           # int32 bits
        # The same word's bits 15:0 read as the starting row of an init_row MAC.
        "init_addr": Field(7, 0, 16),
    },
    Opcode.LIST: {
        "list_addr": Field(1, 0, 32),
        "count": Field(2, 0, 16),
    },
}


def reserved_masks(opcode):
    """Per word, the bits no field of ``opcode`` covers (they must be zero)."""
    masks = [0xFFFF_FFFF] * DESCRIPTOR_WORDS
    masks[0] &= ~_OPCODE.mask
    for field in FIELDS[Opcode(opcode)].values():
        masks[field.word] &= ~field.mask
    return masks


def encode(opcode, **values):
    """The 8 descriptor words of a command; unnamed fields are zero.

    ``encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=..., ...)``;
    enum members and bools are accepted for their values; a 32-bit field also takes a negative
    int32 (stored as two's complement), so ``lo=-128`` works. Raises ``KeyError`` for a field the
    opcode does not have and ``ValueError`` for a value that does not fit.
    """
    opcode = Opcode(opcode)
    fields = FIELDS[opcode]
    words = [0] * DESCRIPTOR_WORDS
    words[0] = opcode.value
    for name, value in values.items():
        if name not in fields:
            raise KeyError(f"{opcode.name} has no field {name!r}; fields: {', '.join(fields)}")
        field = fields[name]
        value = int(getattr(value, "value", value))
        low = -(1 << (field.width - 1)) if field.signed or field.width == 32 else 0
        high = (1 << (field.width - (1 if field.signed else 0))) - 1
        if not low <= value <= high:
            raise ValueError(f"{opcode.name}.{name} = {value} does not fit in {field.width} "
                             f"{'signed ' if field.signed else ''}bits")
        words[field.word] |= (value & ((1 << field.width) - 1)) << field.lsb
    return words


def decode(words):
    """``(opcode, fields)`` of a descriptor; opcode is an :class:`Opcode` or the raw int when it
    is not a valid opcode (then ``fields`` is empty). Reserved bits are not checked here."""
    if len(words) != DESCRIPTOR_WORDS:
        raise ValueError(f"a descriptor has {DESCRIPTOR_WORDS} words, not {len(words)}")
    raw = words[0] & _OPCODE.mask
    try:
        opcode = Opcode(raw)
    except ValueError:
        return raw, {}
    values = {}
    for name, field in FIELDS[opcode].items():
        value = (words[field.word] >> field.lsb) & ((1 << field.width) - 1)
        if field.signed and value >> (field.width - 1):
            value -= 1 << field.width
        values[name] = value
    return opcode, values


def list_bytes(entries):
    """The main-memory image of a command list for LIST: each entry's 8 words, little-endian,
    32 bytes per entry, in order."""
    out = bytearray()
    for words in entries:
        if len(words) != DESCRIPTOR_WORDS:
            raise ValueError(f"a list entry has {DESCRIPTOR_WORDS} words, not {len(words)}")
        for word in words:
            out += (int(word) & 0xFFFF_FFFF).to_bytes(4, "little")
    return bytes(out)


def command_layout(opcode):
    """Amaranth layout of the decoded fields of ``opcode`` (the payload of a unit's command
    stream): one member per :data:`FIELDS` entry, of its width (signed fields signed)."""
    from amaranth.hdl import signed, unsigned
    return data.StructLayout({
        name: (signed if field.signed else unsigned)(field.width)
        for name, field in FIELDS[Opcode(opcode)].items()
    })


def unpack_fields(opcode, words, view):
    """Amaranth statements assigning the fields of ``opcode`` from descriptor ``words`` (a list
    of 8 32-bit values) to ``view`` (a :func:`command_layout` view)."""
    return [getattr(view, name).eq(words[field.word][field.lsb:field.lsb + field.width])
            for name, field in FIELDS[Opcode(opcode)].items()]
