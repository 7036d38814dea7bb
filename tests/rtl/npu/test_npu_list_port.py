# amaranth: UnusedElaboratable=no
"""``npu_list_port``: the NPU's LIST entry fetcher on an initiator of its own (``Npu.list``), on
Amaranth's simulator. The list lies in a second memory (on-chip RAM's place, one-cycle
answers) served on ``list``, the data in main memory served on ``dma``: a GEMM's stream as one
LIST is bit-exact, the fetch reads the list only on ``list`` and the DMA never touches it;
malformed entries and a list fetch answered with err give the golden model's ERROR,
ERROR_INDEX, ISSUED and DONE, touch no memory, and a LIST pushed after them runs."""

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, Register
from dure.rtl.npu.descriptor import encode, list_bytes
from dure.rtl.npu.npu import Npu, npu_ports
from dure.sim.npu_model import NpuModel as GoldenNpu
from dure.sim.npu_model_regs import NpuRegisters as GoldenRegisters
from dure.sim.verif.npu_control import random_operands, resident_gemm
from dure.sim.verif.npu_datapath import MemoryTarget
from dure.sim.verif.npu_one_port import NpuOnePort, one_port_npu
from dure.sim.verif.npu_sim import push_and_wait_idle
from dure.sim.verif.reusable_sim import reusable

from dure.config import MAIN_BASE, RAM_BASE, SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32, npu_queue_depth=4,
                npu_list_port=True)
REGS = ("ERROR", "ERROR_INDEX", "ISSUED", "DONE")


def _simulation():
    def build():
        npu = Npu(CFG)
        return npu, npu
    return reusable(("npu-list-port", CFG), build)


def run(image, lists, pushed, *, err_words=()):
    """``image`` at MAIN_BASE on ``dma`` (latency 3, jitter 2), ``lists`` (bytes) at RAM_BASE on
    ``list`` (latency 1; ``err_words``: word addresses answering err); the window spans both;
    pushes ``pushed``, waits, reads :data:`REGS`. Returns (registers, main, list memory,
    dma target, list target)."""
    sim = _simulation()
    npu = sim.design
    main, ram = bytearray(image), bytearray(lists)
    dma = MemoryTarget(npu.dma, main, base=MAIN_BASE, latency=3, jitter=2, gnt_probability=0.9)
    fetch = MemoryTarget(npu.list, ram, base=RAM_BASE, latency=1, err_words=set(err_words))
    regs = {}

    async def bench(ctx):
        regs.update(await push_and_wait_idle(
            ctx, npu.bus, pushed, REGS, window=(MAIN_BASE, RAM_BASE + len(ram) - MAIN_BASE)))

    sim.run([bench], [dma.serve, fetch.serve])
    return regs, main, ram, dma, fetch


def golden(image, lists, pushed, *, hole=None):
    """The command model on the same memories (``hole``: a byte range of the list memory that
    does not exist, so reading it fails as the err words do)."""
    regions = {MAIN_BASE: bytes(image)}
    if hole is None:
        regions[RAM_BASE] = bytes(lists)
    else:
        regions[RAM_BASE] = bytes(lists[:hole[0]])
        regions[RAM_BASE + hole[1]] = bytes(lists[hole[1]:])
    model = GoldenNpu(CFG, memory=regions)
    model.set_window(MAIN_BASE, RAM_BASE + len(lists) - MAIN_BASE)
    for words in pushed:
        model.execute(words)
    regs = GoldenRegisters(model)
    return model, {name: regs.read(Register[name].value) for name in REGS}


def test_ports():
    """The ``list`` member exists with the option only; npu_ports says the same."""
    assert "list" in Npu(CFG).signature.members
    assert "list" not in Npu(SoCConfig(npu_rows=4, npu_cols=4)).signature.members
    assert set(npu_ports(4, list_port=True)) == {"bus", "dma", "list", "irq"}
    joined = one_port_npu(CFG)
    joined._MustUse__silence = joined.npu._MustUse__silence = True   # not elaborated here
    assert isinstance(joined, NpuOnePort)
    assert "list" not in joined.signature.members
    with pytest.raises(ValueError, match="npu_list_port"):
        NpuOnePort(SoCConfig(npu_rows=4, npu_cols=4))


def test_gemm_stream_as_a_list_on_its_own_port():
    m, k, n = 8, 8, 8
    a, b, expect = random_operands("int8", m, k, n, seed=11)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE)
    entries = list(gemm.stream) + list(gemm.stores)
    lists = list_bytes(entries)
    pushed = [encode(Opcode.LIST, list_addr=RAM_BASE, count=len(entries))]
    regs, main, ram, dma, fetch = run(gemm.image, lists, pushed)
    got = np.frombuffer(bytes(main[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)
    _, want = golden(gemm.image, lists, pushed)
    assert regs == want and regs["ERROR"] == 0
    assert regs["DONE"] == len(entries) + 1
    # the list crossed the list port only, every word once, read-only; the DMA stayed in main
    assert sorted(addr for _, addr, *_ in fetch.log) == \
        list(range(RAM_BASE // 4, RAM_BASE // 4 + 8 * len(entries)))
    assert not any(we for _, _, we, _, _ in fetch.log)
    assert all(MAIN_BASE // 4 <= addr < RAM_BASE // 4 for _, addr, *_ in dma.log)
    assert ram == bytearray(lists)


def test_malformed_entries_and_a_failed_fetch():
    """Bad entries (reserved bits, k > rows, a LOAD below the window, a nested LIST, an
    unknown opcode) get the model's first error and index and write nothing; a list whose
    entry 5 is answered with err stops there (BUS_ERROR, index 5); the LIST pushed after it
    runs the GEMM exactly."""
    m, k, n = 8, 4, 4
    a, b, expect = random_operands("int8", m, k, n, seed=12)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE)
    good = list(gemm.stream) + list(gemm.stores)
    reserved = list(gemm.stream[0])
    reserved[6] = 1 << 31
    bad_k = encode(Opcode.COMPUTE, a_addr=0, w_addr=0, acc_addr=0, m=1, k=5, n=4)
    load_out = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                      dram_addr=MAIN_BASE - 8, dram_stride=8, rows=1, cols=4, local_addr=0)
    nested = encode(Opcode.LIST, list_addr=RAM_BASE, count=1)
    rng = np.random.default_rng(13)
    bad_list = list(good)
    for words in [reserved, bad_k, load_out, nested, [9] + [0] * 7]:
        bad_list.insert(int(rng.integers(0, len(bad_list) + 1)), words)
    first = list_bytes(bad_list)
    first += bytes(-len(first) % 32)
    faulty = list_bytes(good + [encode(Opcode.FENCE)] * 8)
    at_faulty = len(first)
    at_good = at_faulty + len(faulty)
    lists = first + faulty + list_bytes(good)
    pushed = [encode(Opcode.LIST, list_addr=RAM_BASE, count=len(bad_list))]
    regs, main, _, _, _ = run(gemm.image, lists, pushed)
    model, want = golden(gemm.image, lists, pushed)
    assert regs == want and regs["ERROR_INDEX"] != 0xFFFF_FFFF
    assert regs["ERROR"] & 0xF != 0
    assert main == bytearray(model.read(MAIN_BASE, len(gemm.image)))
    got = np.frombuffer(bytes(main[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)

    hole = (at_faulty + 5 * 32, at_faulty + 6 * 32)
    err_words = set(range((RAM_BASE + hole[0]) // 4, (RAM_BASE + hole[1]) // 4))
    pushed = [encode(Opcode.LIST, list_addr=RAM_BASE + at_faulty, count=len(good) + 8),
              encode(Opcode.LIST, list_addr=RAM_BASE + at_good, count=len(good))]
    regs, main, _, _, _ = run(gemm.image, lists, pushed, err_words=err_words)
    _, want = golden(gemm.image, lists, pushed, hole=hole)
    assert regs == want
    assert regs["ERROR"] == ErrorCode.BUS_ERROR.value | (1 + 5) << 8
    assert regs["ERROR_INDEX"] == 5
    got = np.frombuffer(bytes(main[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)


def test_refused_list_with_its_fetch_in_flight():
    """A LIST inside the window with a reserved bit set (word 3) is fetched speculatively
    from on-chip RAM while it is validated, then refused: ERROR (RESERVED, its number),
    ERROR_INDEX, ISSUED and DONE equal the model's, main memory is untouched; the good LIST
    pushed right behind it (its fetch waiting for the aborted one's responses) runs the GEMM
    exactly."""
    m, k, n = 8, 8, 8
    a, b, expect = random_operands("int8", m, k, n, seed=14)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE)
    entries = list(gemm.stream) + list(gemm.stores)
    lists = list_bytes(entries)
    bad = encode(Opcode.LIST, list_addr=RAM_BASE, count=len(entries))
    bad[3] = 1
    pushed = [bad, encode(Opcode.LIST, list_addr=RAM_BASE, count=len(entries))]
    regs, main, ram, dma, fetch = run(gemm.image, lists, pushed)
    model, want = golden(gemm.image, lists, pushed)
    assert regs == want
    assert regs["ERROR"] == ErrorCode.RESERVED.value          # sequence number 0
    assert regs["DONE"] == 2 * (len(entries) + 1)
    # entry 0 was read twice: speculatively for the refused LIST, then for the good one
    assert [addr for _, addr, *_ in fetch.log].count(RAM_BASE // 4) == 2
    assert not any(we for _, _, we, _, _ in fetch.log)
    assert main == bytearray(model.read(MAIN_BASE, len(gemm.image)))
    got = np.frombuffer(bytes(main[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)
