"""Random NPU descriptors and DMA windows biased toward the validator's boundaries.

For randomised tests of the RTL validator against :mod:`.npu_validate` and for fuzzing the
command processor: :func:`make_vectors` gives (words, dma_base, dma_size) triples.
"""

import struct

from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import FIELDS, decode

from .npu_validate import footprint

FP32_EDGES = [0x0000_0000, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0001,
              0x7F80_0001, 0x3F80_0000, 0xBF80_0000, 0x0000_0001, 0x8000_0001, 0x7F7F_FFFF]


def _f32(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


def _near(rng, values):
    value = rng.choice(values)
    return value + rng.choice([-2, -1, -1, 0, 0, 0, 1, 1, 2])


def _dim(rng, limit):
    return max(0, _near(rng, [0, 1, 1, 2, limit, limit, limit + 1, rng.randint(1, limit)]))


def _field_value(rng, config, opcode, name, width):
    mask = (1 << width) - 1
    spad, acc = config.npu_spad_rows, config.npu_acc_rows
    lanes, rows, cols = config.npu_lanes, config.npu_rows, config.npu_cols
    if name in ("rows", "m"):
        value = _near(rng, [0, 1, 2, 3, spad, acc, spad // 2, rng.randint(1, 40)])
    elif name == "cols":
        value = _dim(rng, rng.choice([lanes, cols]))
    elif name == "k":
        value = _dim(rng, rows)
    elif name == "n":
        value = _dim(rng, cols)
    elif name in ("local_addr", "a_addr", "w_addr", "acc_addr", "scale_addr", "b_addr"):
        value = _near(rng, [0, 0, spad - 1, acc - 1, spad - 8, acc - 8, rng.randint(0, spad),
                            mask])
    elif name == "count":
        value = _near(rng, [0, 1, 2, 3, 0xFFFF, rng.randint(1, 300)])
    elif name in ("dram_addr", "list_addr"):
        value = _near(rng, [0x4000_0000, 0x4000_0000 + rng.randint(0, 4096), 0, 0xFFFF_FFF0,
                            rng.getrandbits(32)])
    elif name == "dram_stride":
        value = _near(rng, [0, 1, 2, 4, 8, 16, 32, 64, cols * 4, 0x8000_0000, 0xFFFF_FFFF,
                            rng.getrandbits(12)])
    elif name in ("lo", "hi"):
        kind = rng.random()
        if kind < 0.4:
            value = _near(rng, [-128, 127, 0, -1, 128, -129]) & 0xFFFF_FFFF
        elif kind < 0.7:
            value = rng.choice(FP32_EDGES)
        elif kind < 0.85:
            value = _f32(rng.uniform(-10, 10))
        else:
            value = 0
    elif name == "requant":
        value = rng.choice([0, 0, 0, 0, 1, 2, 3])
    elif name == "lane_scales":
        value = rng.random() < 0.15
    elif name in ("keep", "gather", "lane_sum"):      # the 2:4 MAC-skipping flags
        value = rng.random() < 0.15
    elif name in ("zero_point", "zp_a", "zp_b"):
        value = rng.choice([0, 0, 0, -128, 127, -1, 5])
    elif width == 1:
        value = rng.random() < 0.5
    else:
        value = rng.choice([0, 0, 1, 1, 2, 3]) if width == 2 else rng.getrandbits(width)
    return int(value) & mask


def _set(words, opcode, name, value):
    field = FIELDS[opcode][name]
    mask = (1 << field.width) - 1
    words[field.word] &= ~(mask << field.lsb)
    words[field.word] |= (int(value) & mask) << field.lsb


def _small(rng, config):
    return max(0, _near(rng, [0, 1, 1, 2, 3, 4, 8, rng.randint(1, 16), config.npu_rows]))


def _step(rng, config):
    spad = config.npu_spad_rows
    return _near(rng, [0, 1, 1, 2, 3, 9, 18, spad // 4, spad // 2, 0xFFFF,
                       rng.getrandbits(16)]) & 0xFFFF


def _product_or_near(rng, a, b):
    value = a * b
    return value if rng.random() < 0.8 else max(0, _near(rng, [value, rng.getrandbits(16)]))


def _walk_fields(rng, config, words, opcode=Opcode.COMPUTE):
    """Walk fields of a COMPUTE or ELTWISE: absent, coherent (m = a_rows * a_cols) or
    near-miss."""
    names = ("a_cols", "a_rows", "a_col_step", "a_row_step")
    kind = rng.random()
    if kind < 0.4:
        for name in names:
            _set(words, opcode, name, 0)
        return
    if kind < 0.45:
        return                      # fully random fields
    cols = _small(rng, config) if rng.random() < 0.9 else 0
    rows = _small(rng, config)
    _set(words, opcode, "a_cols", cols)
    _set(words, opcode, "a_rows", rows if cols or rng.random() < 0.2 else 0)
    for name in ("a_col_step", "a_row_step"):
        _set(words, opcode, name, _step(rng, config) if cols or rng.random() < 0.2 else 0)
    _set(words, opcode, "m", _product_or_near(rng, rows, cols) if cols else
         _near(rng, [1, 2, 3, config.npu_spad_rows, rng.randint(1, 40)]))
    if rng.random() < 0.5:
        _set(words, opcode, "a_addr", rng.randint(0, 63))


def _init_row_fields(rng, config, words):
    """COMPUTE ``init_row`` / ``init_addr``: mostly absent, else a bias row (without
    ``accumulate`` mostly; around the ACC's end and the command's own rows), or a stray
    ``init_addr`` without the flag."""
    kind = rng.random()
    flag = kind < 0.25
    _set(words, Opcode.COMPUTE, "init_row", flag)
    if flag:
        f = decode(words)[1]
        if rng.random() < 0.8:
            _set(words, Opcode.COMPUTE, "accumulate", 0)
        acc = config.npu_acc_rows
        _set(words, Opcode.COMPUTE, "init_addr", _near(rng, [
            0, acc - 1, acc, f["acc_addr"], f["acc_addr"] + f["m"], f["acc_addr"] - 1,
            rng.randint(0, acc - 1), rng.getrandbits(16)]) & 0xFFFF)
    else:
        _set(words, Opcode.COMPUTE, "init_addr", 0 if kind < 0.95 else rng.getrandbits(16))


_ADD_ONLY = ("b_addr", "zp_a", "zp_b", "mult_a", "mult_b", "rshift_a", "rshift_b")


def _eltwise_fields(rng, config, words):
    """ELTWISE: the walk, then mostly coherent op-specific fields (ADD-only fields zero for
    MAX, accumulate clear for ADD; a B range near A's; a MAC with op 0, a weight row and
    mostly INT8 (an FP16 one mostly without reduce), half of them pair with a small
    tap_step, some ``init_row`` with an ``init_addr`` near the ACC's ends, mostly without
    accumulate; reduce, pair and init_row mostly clear without mac)."""
    _walk_fields(rng, config, words, Opcode.ELTWISE)
    f = decode(words)[1]
    if f["mac"] and rng.random() < 0.85:         # a coherent MAC: op 0, INT8, a weight row
        _set(words, Opcode.ELTWISE, "op", 0)
        for name in _ADD_ONLY:
            _set(words, Opcode.ELTWISE, name, 0)
        _set(words, Opcode.ELTWISE, "b_addr", rng.randint(0, 63))
        if rng.random() < 0.7:
            _set(words, Opcode.ELTWISE, "precision", 0)
        elif rng.random() < 0.8:                 # FP16: reduce is refused, mostly clear
            _set(words, Opcode.ELTWISE, "reduce", 0)
        pair = rng.random() < 0.5
        _set(words, Opcode.ELTWISE, "pair", int(pair))
        if pair:                                 # tap_step: w2's low half (or all of w2)
            _set(words, Opcode.ELTWISE, "tap_step", rng.choice([0, 1, 2, 7, 30]))
            if rng.random() < 0.1:
                _set(words, Opcode.ELTWISE, "mult_a", rng.getrandbits(32))
        init = rng.random() < 0.4                # start from an ACC row (init_row)
        _set(words, Opcode.ELTWISE, "init_row", int(init))
        if init:                                 # init_addr: w7's low half (or all of w7)
            if rng.random() < 0.85:
                _set(words, Opcode.ELTWISE, "accumulate", 0)
            _set(words, Opcode.ELTWISE, "init_addr", rng.choice(
                [0, 1, config.npu_acc_rows - 1, config.npu_acc_rows, rng.getrandbits(16)]))
            if rng.random() < 0.1:
                _set(words, Opcode.ELTWISE, "mult_b", rng.getrandbits(32))
    elif not f["mac"] and rng.random() < 0.85:
        _set(words, Opcode.ELTWISE, "reduce", 0)
        _set(words, Opcode.ELTWISE, "pair", 0)
        _set(words, Opcode.ELTWISE, "init_row", 0)
    op = decode(words)[1]["op"]
    if op == 0 and not f["mac"] and rng.random() < 0.85:
        for name in _ADD_ONLY:
            _set(words, Opcode.ELTWISE, name, 0)
    if op == 1 and rng.random() < 0.85:
        _set(words, Opcode.ELTWISE, "accumulate", 0)
        if rng.random() < 0.5:
            _set(words, Opcode.ELTWISE, "b_addr", rng.randint(0, 63))
    if rng.random() < 0.5:
        _set(words, Opcode.ELTWISE, "n", rng.randint(1, config.npu_cols))


def _fill_and_placement(rng, config, words):
    """Fill and placement fields of a LOAD: absent, coherent or near-miss."""
    if rng.random() < 0.35:
        _set(words, Opcode.LOAD, "fill", 1)
        if rng.random() < 0.85:
            for name in ("dram_addr", "dram_stride", "broadcast"):
                _set(words, Opcode.LOAD, name, 0)
        _set(words, Opcode.LOAD, "fill_value", rng.choice(
            [0, 0x80, 0x7F, 0xFFFF_FF80, 0x7C00, 0xFE00, 0x8000_0000, rng.getrandbits(32)]))
    else:
        _set(words, Opcode.LOAD, "fill", 0)
        if rng.random() < 0.9:
            _set(words, Opcode.LOAD, "fill_value", 0)
    names = ("local_cols", "local_groups", "local_row_step")
    kind = rng.random()
    if kind < 0.4:
        for name in names:
            _set(words, Opcode.LOAD, name, 0)
    elif kind > 0.45:
        cols = _small(rng, config) if rng.random() < 0.9 else 0
        groups = _small(rng, config)
        _set(words, Opcode.LOAD, "local_cols", cols)
        _set(words, Opcode.LOAD, "local_groups", groups if cols or rng.random() < 0.2 else 0)
        _set(words, Opcode.LOAD, "local_row_step",
             _step(rng, config) if cols or rng.random() < 0.2 else 0)
        if cols:
            _set(words, Opcode.LOAD, "rows", _product_or_near(rng, groups, cols))
        if rng.random() < 0.5:
            _set(words, Opcode.LOAD, "local_addr", rng.randint(0, 63))
    words[7] &= 0xFFFF if rng.random() < 0.95 else 0xFFFF_FFFF
    _weight_format(rng, words)


def _weight_format(rng, words):
    """Weight format of a LOAD: mostly dense; else a packed LOAD, mostly coherent (SPAD, its
    elem, no fill / broadcast, rows a multiple of 4 (cols for the lane-grouped 2:4), a scale
    row near the weights)."""
    if rng.random() < 0.7:
        _set(words, Opcode.LOAD, "weight_format", 0)
        return
    fmt = rng.choice([1, 2, 3, 4, 5, 6, 7])
    _set(words, Opcode.LOAD, "weight_format", fmt)
    if rng.random() < 0.85:
        for name in ("fill", "broadcast", "target"):
            _set(words, Opcode.LOAD, name, 0)
        _set(words, Opcode.LOAD, "elem", 1 if fmt in (2, 7) else 0)
        _set(words, Opcode.LOAD, "dram_addr", 0x4000_0000 + rng.getrandbits(12))
        _set(words, Opcode.LOAD, "dram_stride", rng.choice([0, 3, 4, 5, 10, 12, 20, 21, 64]))
        if fmt in (5, 6) and rng.random() < 0.8:
            cols = (words[3] >> 16) & ~3
            _set(words, Opcode.LOAD, "cols", cols or 4)
        if fmt not in (5, 6):                 # keep (tagged lanes) mostly with its formats
            # with SPARSE24_INT4 (4) keep is the shared base-6 variant (rows % 3)
            _set(words, Opcode.LOAD, "keep", rng.random() < (0.5 if fmt == 4 else 0.05))
        base6 = fmt == 4 and (words[0] >> 13) & 1
        if base6 and rng.random() < 0.8:
            _set(words, Opcode.LOAD, "cols", ((words[3] >> 16) & ~1) or 2)
        if fmt in (3, 4, 7) and rng.random() < 0.8:
            rows = (words[3] & 0xFFFF) & ~3
            if base6:
                rows = 3 * ((words[3] & 0xFFFF) // 3)
            _set(words, Opcode.LOAD, "rows", rows or (3 if base6 else 4))
            if (words[6] & 0xFFFF) and rng.random() < 0.8:
                _set(words, Opcode.LOAD, "local_groups", 0)
                _set(words, Opcode.LOAD, "local_cols", 0)
                _set(words, Opcode.LOAD, "local_row_step", 0)
    scale = 0
    if fmt == 2 or rng.random() < 0.05:
        scale = (words[1] + rng.choice([-2, 0, 1, 64, 4096, -4096, rng.getrandbits(12)])) \
            if rng.random() < 0.9 else rng.getrandbits(32)
    _set(words, Opcode.LOAD, "scale_addr", scale & 0xFFFF_FFFF)


def random_descriptor(rng, config):
    """8 words of a random descriptor (mostly near-valid ones)."""
    kind = rng.random()
    if kind < 0.03:
        return [rng.getrandbits(32) for _ in range(8)]
    if kind < 0.06:
        return [rng.choice([0, 5, 6, 7, 8, 15])] + [rng.getrandbits(32) for _ in range(7)]
    opcode = rng.choice([Opcode.LOAD, Opcode.LOAD, Opcode.COMPUTE, Opcode.STORE, Opcode.STORE,
                         Opcode.FENCE, Opcode.LIST, Opcode.ELTWISE])
    words = [0] * 8
    words[0] = opcode.value
    for name, field in FIELDS[opcode].items():
        value = _field_value(rng, config, opcode, name, field.width)
        words[field.word] |= value << field.lsb
    if opcode == Opcode.COMPUTE:
        _walk_fields(rng, config, words)
        _init_row_fields(rng, config, words)
    if opcode == Opcode.ELTWISE:
        _eltwise_fields(rng, config, words)
    if opcode == Opcode.LOAD:
        _fill_and_placement(rng, config, words)
    if opcode == Opcode.STORE and decode(words)[1]["lane_scales"] and rng.random() < 0.7:
        # Per-row parameters: mostly legal (one column, scale on) so LOCAL_RANGE is reached.
        _set(words, opcode, "cols", 1)
        _set(words, opcode, "scale", 1)
    if opcode == Opcode.STORE and rng.random() < 0.4:
        # Make unread bounds zero more often, so later checks are reached.
        words[5] = words[6] = 0 if rng.random() < 0.5 else words[5]
    if rng.random() < 0.05:
        index, bit = rng.randrange(8), rng.randrange(32)
        words[index] ^= 1 << bit
    return [w & 0xFFFF_FFFF for w in words]


def random_window(rng, words):
    """A DMA window (base, size) chosen around the descriptor's footprint."""

    opcode, fields = decode(words)
    span = footprint(opcode, fields) if isinstance(opcode, Opcode) and \
        opcode in (Opcode.LOAD, Opcode.STORE, Opcode.LIST) and fields.get("elem", 0) != 3 \
        else None
    kind = rng.random()
    if span is None or kind < 0.15:
        choices = [(0, 0), (0x4000_0000, 0x10_0000), (0, 0xFFFF_FFFF),
                   (0xFFFF_F000, 0x1001), (rng.getrandbits(32), rng.getrandbits(32))]
        return rng.choice(choices)
    first, last = span
    base = max(0, min(0xFFFF_FFFF, first + rng.choice([-1, 0, 0, 0, 1, -4096])))
    end = last + 1 + rng.choice([-1, 0, 0, 0, 1, 4096])
    size = end - base
    if not 0 <= size <= 0xFFFF_FFFF:
        size = rng.getrandbits(32)
    return base, size


def make_vectors(rng, config, count):
    """``count`` (words, base, size) triples."""
    out = []
    for _ in range(count):
        words = random_descriptor(rng, config)
        out.append((words, *random_window(rng, words)))
    return out
