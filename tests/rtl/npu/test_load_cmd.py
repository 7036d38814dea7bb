"""The LOAD contract's byte counts (rtl/npu/load_cmd.py): the source rows and row bytes of each
weight format, and the bus words PERF_DMA_RD counts, as the contract's prose states them."""

import pytest
from dure.rtl.npu.load_cmd import (
    KEEP_BASE6_FORMAT,
    ElemType,
    WeightFormat,
    elem_bytes,
    load_source,
    read_bytes,
)

F = WeightFormat


@pytest.mark.parametrize("fmt, elem, rows, cols, keep, want", [
    (F.DENSE, ElemType.INT8, 5, 7, False, (5, 7)),
    (F.DENSE, ElemType.FP16, 5, 7, False, (5, 14)),
    (F.DENSE, ElemType.WORD32, 2, 3, False, (2, 12)),
    (F.INT4, ElemType.INT8, 6, 7, False, (6, 4)),                 # ceil(7 / 2)
    (F.INT4_FP16, ElemType.FP16, 6, 8, False, (6, 4)),
    (F.INT4_FP16_ROWS, ElemType.FP16, 8, 8, False, (2, 2 + 4 * 4)),
    (F.SPARSE24, ElemType.INT8, 8, 8, False, (2, 8 + 8 + 4)),
    (F.SPARSE24_INT4, ElemType.INT8, 8, 8, False, (2, 3 * 4)),
    (F.SPARSE24_LANES, ElemType.INT8, 3, 8, False, (3, 2 * 2 + 1)),   # g = 2 groups
    (F.SPARSE24_INT4_LANES, ElemType.INT8, 3, 16, False, (3, 4 + 2)),  # g = 4 groups
    (F.SPARSE24_LANES, ElemType.INT8, 3, 4, True, (3, 2 * 2 + 1)),    # 4 kept = 8 dense
    (F.SPARSE24_INT4_LANES, ElemType.INT8, 3, 8, True, (3, 4 + 2)),
    (KEEP_BASE6_FORMAT, ElemType.INT8, 9, 8, True, (3, 16)),         # 3 rows per source row
])
def test_load_source(fmt, elem, rows, cols, keep, want):
    assert load_source(rows, cols, fmt, elem, keep=keep) == want


def test_elem_bytes():
    assert [elem_bytes(e) for e in ElemType] == [1, 2, 4]


def test_read_bytes_counts_bus_words_once():
    assert read_bytes(0, 1, 8, 1) == 8              # 1-byte rows at stride 1: a byte each
    assert read_bytes(0, 1, 1, 1) == 4              # a lone 1-byte row: one word
    assert read_bytes(0, 8, 3, 3) == 12             # rows in separate words
    assert read_bytes(2, 4, 2, 4) == 12             # each row straddles; the shared word once
    assert read_bytes(0, 0, 4, 4) == 4              # stride 0: every row shares the one word
    assert read_bytes(0, 16, 2, 8) == 16
