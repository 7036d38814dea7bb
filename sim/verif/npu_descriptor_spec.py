"""The NPU command descriptor layout written a second time, by hand, from the documentation.

Source: the contract prose of the commands (the docstrings of ``rtl/npu/commands.py``,
section "Commands", and of the per-command modules ``load_cmd.py``, ``store_cmd.py``,
``eltwise_cmd.py``), read as a user of the NPU reads it: ``w3: rows [15:0], cols [31:16]``
becomes ``"rows": (3, 15, 0)``. Nothing here imports the
RTL's field table (:data:`dure.rtl.npu.descriptor.FIELDS`) or its reserved masks;
``tests/sim/verif/test_npu_descriptor_spec.py`` checks both against this statement, so a field
moved in the table without the documentation (or the other way round) fails a test, and so
does a reserved bit that the validator would let through. The NPU validator and its
reference model share that table; this is the independent pin the issue asked for.
"""

__all__ = ["DESCRIPTOR_WORDS", "OPCODES", "LAYOUT", "SIGNED", "ALIASES", "documented_bits"]

#: "Every command is a descriptor of 8 little-endian 32-bit words".
DESCRIPTOR_WORDS = 8

#: "Word 0 holds the opcode in bits 3:0"; the opcode numbers as the headings give them.
OPCODES = {"LOAD": 1, "COMPUTE": 2, "STORE": 3, "FENCE": 4, "LIST": 5, "ELTWISE": 6}

#: Per command: field -> (word, msb, lsb), as the documentation writes ``wN: name [msb:lsb]``
#: (a whole-word field, ``w1: dram_addr``, is [31:0]). The opcode field itself is left out.
LAYOUT = {
    "LOAD": {
        "target": (0, 5, 4), "elem": (0, 7, 6), "broadcast": (0, 8, 8), "fill": (0, 9, 9),
        "weight_format": (0, 12, 10), "keep": (0, 13, 13),
        "dram_addr": (1, 31, 0),
        "dram_stride": (2, 31, 0),
        "rows": (3, 15, 0), "cols": (3, 31, 16),
        "local_addr": (4, 15, 0),
        "fill_value": (5, 31, 0),
        "scale_addr": (5, 31, 0),          # w5 of an INT4_FP16 LOAD: the same bits
        "local_cols": (6, 15, 0), "local_groups": (6, 31, 16),
        "local_row_step": (7, 15, 0),
    },
    "COMPUTE": {
        "precision": (0, 4, 4), "dataflow": (0, 5, 5), "accumulate": (0, 6, 6),
        "diagonal": (0, 7, 7), "gather": (0, 8, 8), "init_row": (0, 9, 9),
        "a_addr": (1, 15, 0),
        "w_addr": (2, 15, 0),
        "acc_addr": (3, 15, 0),
        "m": (4, 15, 0), "k": (4, 23, 16), "n": (4, 31, 24),
        "a_cols": (5, 15, 0), "a_rows": (5, 31, 16),
        "a_col_step": (6, 15, 0), "a_row_step": (6, 31, 16),
        "init_addr": (7, 15, 0),
    },
    "STORE": {
        "out": (0, 5, 4), "acc_type": (0, 6, 6), "scale": (0, 7, 7), "clamp": (0, 8, 8),
        "requant": (0, 10, 9), "lane_scales": (0, 11, 11), "lane_sum": (0, 12, 12),
        "zero_point": (0, 23, 16),
        "dram_addr": (1, 31, 0),
        "dram_stride": (2, 31, 0),
        "rows": (3, 15, 0), "cols": (3, 31, 16),
        "acc_addr": (4, 15, 0), "scale_addr": (4, 31, 16),
        "lo": (5, 31, 0),
        "hi": (6, 31, 0),
    },
    "FENCE": {
        "irq": (0, 4, 4),
    },
    "LIST": {
        "list_addr": (1, 31, 0),
        "count": (2, 15, 0),
    },
    "ELTWISE": {
        "precision": (0, 4, 4),            # MAX and MAC (INT8 or FP16); ADD: INT8 only
        "op": (0, 5, 5), "accumulate": (0, 6, 6),
        "mac": (0, 7, 7), "reduce": (0, 8, 8), "pair": (0, 9, 9), "init_row": (0, 10, 10),
        "zp_a": (0, 23, 16), "zp_b": (0, 31, 24),
        "a_addr": (1, 15, 0), "b_addr": (1, 31, 16),
        "mult_a": (2, 31, 0),
        "tap_step": (2, 15, 0),            # w2 of a pair MAC: the low half of mult_a's bits
        "acc_addr": (3, 15, 0), "rshift_a": (3, 20, 16), "rshift_b": (3, 28, 24),
        "m": (4, 15, 0), "n": (4, 31, 24),
        "a_cols": (5, 15, 0), "a_rows": (5, 31, 16),       # "exactly as COMPUTE's"
        "a_col_step": (6, 15, 0), "a_row_step": (6, 31, 16),
        "mult_b": (7, 31, 0),
        "init_addr": (7, 15, 0),           # w7 of an init_row MAC: the low half of mult_b's bits
    },
}

#: Fields documented as two's-complement integers narrower than a word ("int8, two's
#: complement"); the 32-bit ``lo`` / ``hi`` / ``mult_*`` hold any 32-bit pattern.
SIGNED = {"STORE": {"zero_point"}, "ELTWISE": {"zp_a", "zp_b"}}

#: Fields documented as a second name for the bits of another.
ALIASES = {"LOAD": {"scale_addr": "fill_value"}}


def documented_bits(command):
    """Per word, the mask of the bits the documentation gives a meaning for ``command`` (the
    opcode's bits 3:0 included); every other bit is "reserved and must be zero"."""
    if command not in LAYOUT:
        raise ValueError(f"unknown command {command!r}; choose one of: {', '.join(LAYOUT)}")
    bits = [0xF] + [0] * (DESCRIPTOR_WORDS - 1)
    for word, msb, lsb in LAYOUT[command].values():
        bits[word] |= ((1 << (msb - lsb + 1)) - 1) << lsb
    return bits
