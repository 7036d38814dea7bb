"""The golden command model's LIST: entries run as if pushed in its place, sequence numbers
(ISSUED / DONE / ERROR seq), ERROR_INDEX, nested LIST refused, window check of the list, bus
error while fetching an entry, and the reference validator's LIST checks."""

import numpy as np
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.commands import Register as Reg
from dure.rtl.npu.descriptor import encode, list_bytes
from dure.sim import golden
from dure.sim.npu_model import NpuModel
from dure.sim.npu_model_regs import NpuRegisters
from dure.sim.npu_validate import validate

from dure.config import SoCConfig

MAIN = 0x4000_0000
SMALL = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32,
                  main_size=64 * 1024)
LIST_AT = MAIN + 0x2000


def small_gemm(rng):
    """A 4x4x8 INT8 GEMM as descriptors (A at MAIN, B at MAIN + 64, C at MAIN + 256) and its
    expected int32 result."""
    a = rng.integers(-128, 128, (4, 4), dtype=np.int8)
    b = rng.integers(-128, 128, (4, 8), dtype=np.int8)
    descs = [
        encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN,
               dram_stride=4, rows=4, cols=4, local_addr=0),
        encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN + 64,
               dram_stride=8, rows=4, cols=8, local_addr=8),
        encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=8, acc_addr=0,
               m=4, k=4, n=8),
        encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8, dram_addr=MAIN + 256,
               dram_stride=32, rows=4, cols=8, acc_addr=0),
    ]
    return a, b, descs, golden.gemm_int8(a, b)


def fresh(rng):
    model = NpuModel(SMALL)
    model.set_window(MAIN, 0x4000)
    a, b, descs, expect = small_gemm(rng)
    model.write(MAIN, a)
    model.write(MAIN + 64, b)
    return model, descs, expect


def lst(addr, count):
    return encode(Opcode.LIST, list_addr=addr, count=count)


def result(model):
    return np.frombuffer(model.read(MAIN + 256, 128), np.int32).reshape(4, 8)


def test_list_equals_pushed_commands_and_numbers_entries():
    rng = np.random.default_rng(1)
    model, descs, expect = fresh(rng)
    model.write(LIST_AT, list_bytes(descs))
    assert model.execute(encode(Opcode.FENCE)) == ErrorCode.NONE          # seq 0
    assert model.execute(lst(LIST_AT, len(descs))) == ErrorCode.NONE      # seq 1, entries 2..5
    assert model.list_codes == [ErrorCode.NONE] * 4
    np.testing.assert_array_equal(result(model), expect)
    assert model.issued == model.done == 2 + len(descs)
    assert model.execute(encode(Opcode.LOAD, rows=0)) == ErrorCode.ZERO_DIM
    assert model.error == (ErrorCode.ZERO_DIM, 6) and model.error_index is None
    assert model.dma_rd == 16 + 32 and model.dma_wr == 128


def test_refused_entries_record_seq_and_index_and_the_list_goes_on():
    rng = np.random.default_rng(2)
    model, descs, expect = fresh(rng)
    bad = [encode(Opcode.LOAD, rows=0) for _ in range(2)]
    bad[1][7] = 1                                           # reserved word
    outside = encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8,
                     dram_addr=MAIN + 0x4000, dram_stride=32, rows=1, cols=8)
    entries = [descs[0], bad[0], descs[1], bad[1], descs[2], outside, lst(LIST_AT, 1),
               descs[3]]
    model.write(LIST_AT, list_bytes(entries))
    model.execute(encode(Opcode.FENCE))
    assert model.execute(lst(LIST_AT, len(entries))) == ErrorCode.NONE
    assert model.list_codes == [ErrorCode.NONE, ErrorCode.ZERO_DIM, ErrorCode.NONE,
                                ErrorCode.RESERVED, ErrorCode.NONE, ErrorCode.DMA_WINDOW,
                                ErrorCode.BAD_COMBINATION, ErrorCode.NONE]
    assert model.error == (ErrorCode.ZERO_DIM, 1 + 1 + 1) and model.error_index == 1
    np.testing.assert_array_equal(result(model), expect)
    assert model.issued == model.done == 2 + len(entries)
    regs = NpuRegisters(model)
    assert regs.read(Reg.ERROR_INDEX.value) == 1
    assert regs.read(Reg.ERROR.value) == ErrorCode.ZERO_DIM.value | 3 << 8
    model.clear_error()
    assert regs.read(Reg.ERROR_INDEX.value) == 0xFFFF_FFFF


def test_nested_list_is_refused_after_reserved_and_zero_dim():
    cfg = SMALL
    nested = lst(LIST_AT, 1)
    assert validate(nested, cfg, MAIN, 0x4000) == ErrorCode.NONE
    assert validate(nested, cfg, MAIN, 0x4000, in_list=True) == ErrorCode.BAD_COMBINATION
    assert validate(lst(LIST_AT, 0), cfg, MAIN, 0x4000, in_list=True) == ErrorCode.ZERO_DIM
    reserved = list(nested)
    reserved[2] |= 1 << 16
    assert validate(reserved, cfg, MAIN, 0x4000, in_list=True) == ErrorCode.RESERVED


def test_list_validation():
    cfg = SMALL
    end = MAIN + 0x4000
    cases = [
        (lst(LIST_AT, 0), ErrorCode.ZERO_DIM),
        (lst(LIST_AT + 2, 1), ErrorCode.MISALIGNED),
        (lst(LIST_AT + 4, 1), ErrorCode.NONE),                 # 4-byte alignment is enough
        (lst(end - 64, 2), ErrorCode.NONE),
        (lst(end - 64, 3), ErrorCode.DMA_WINDOW),
        (lst(MAIN - 4, 1), ErrorCode.DMA_WINDOW),
        (lst(0xFFFF_FFE0, 0xFFFF), ErrorCode.DMA_WINDOW),      # no 32-bit wrap-around
    ]
    for words, code in cases:
        assert validate(words, cfg, MAIN, 0x4000) == code, (words, code)
    for word, bit in ((0, 4), (2, 16), (3, 0), (7, 31)):
        words = lst(LIST_AT, 1)
        words[word] |= 1 << bit
        assert validate(words, cfg, MAIN, 0x4000) == ErrorCode.RESERVED
    assert validate(lst(LIST_AT, 1), cfg, 0, 0) == ErrorCode.DMA_WINDOW


def test_refused_list_retires_all_its_numbers_and_fetches_nothing():
    rng = np.random.default_rng(3)
    model, descs, _ = fresh(rng)
    model.write(LIST_AT, list_bytes(descs))
    words = lst(LIST_AT + 2, 4)                       # misaligned: nothing runs
    assert model.execute(words) == ErrorCode.MISALIGNED
    assert model.error == (ErrorCode.MISALIGNED, 0) and model.error_index is None
    assert model.issued == model.done == 5
    assert not model.spad.any() and model.list_codes == []
    words = lst(LIST_AT, 4)
    words[2] |= 1 << 20                               # reserved, count 4 still taken
    assert model.execute(words) == ErrorCode.RESERVED
    assert model.issued == model.done == 10
    assert model.execute(encode(Opcode.FENCE)) == ErrorCode.NONE
    assert model.issued == model.done == 11


def test_bus_error_while_fetching_drops_the_rest():
    """The window covers unbacked memory: entries 0 and 1 run, entry 2's fetch fails."""
    rng = np.random.default_rng(4)
    model = NpuModel(SMALL, memory={MAIN: bytes(0x2000 + 64)})
    model.set_window(MAIN, 0x4000)
    a, b, descs, _ = small_gemm(rng)
    model.write(MAIN, a)
    model.write(MAIN + 64, b)
    model.write(LIST_AT, list_bytes(descs[:2]))        # entries 2 and 3 lie past the memory
    model.execute(encode(Opcode.FENCE))
    assert model.execute(lst(LIST_AT, 4)) == ErrorCode.NONE
    assert model.list_codes == [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.BUS_ERROR]
    assert model.error == (ErrorCode.BUS_ERROR, 1 + 1 + 2) and model.error_index == 2
    assert model.issued == model.done == 6
    assert model.dma_rd == 48 and model.macs == 0     # the loads ran, the COMPUTE did not
    assert model.execute(encode(Opcode.FENCE)) == ErrorCode.NONE
    assert model.done == 7


def test_registers_count_list_entries():
    rng = np.random.default_rng(5)
    model, descs, expect = fresh(rng)
    model.write(LIST_AT, list_bytes(descs))
    regs = NpuRegisters(model)
    for i, word in enumerate(lst(LIST_AT, 4)):
        regs.write(Reg.CMD0.value + 4 * i, word)
    regs.write(Reg.DOORBELL.value, 1)
    assert regs.read(Reg.ISSUED.value) == regs.read(Reg.DONE.value) == 5
    assert regs.read(Reg.PERF_MACS_LO.value) == 4 * 4 * 8
    assert regs.read(Reg.PERF_DMA_RD_LO.value) == 48
    np.testing.assert_array_equal(result(model), expect)
