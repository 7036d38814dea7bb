"""The model's register file: PERF_DMA_RD counts the bytes LOADs read, not fill LOADs; PERF_MACS
counts only the products a diagonal COMPUTE lets take part."""

from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, Register
from dure.rtl.npu.descriptor import encode
from dure.sim.npu_model import NpuModel
from dure.sim.npu_model_regs import NpuRegisters

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32, main_size=4096)
MAIN = 0x4000_0000


def push(regs, words):
    for index, word in enumerate(words):
        regs.write(Register[f"CMD{index}"].value, word)
    regs.write(Register.DOORBELL.value, 0)


def test_fill_reads_nothing_and_diagonal_macs():
    regs = NpuRegisters(NpuModel(CFG, memory={MAIN: bytes(4096)}))
    regs.write(Register.DMA_BASE.value, MAIN)
    regs.write(Register.DMA_SIZE.value, 4096)
    spad = dict(target=LoadTarget.SPAD, elem=ElemType.FP16)
    push(regs, encode(Opcode.LOAD, **spad, fill=1, fill_value=0x3C00, rows=6, cols=8,
                      local_addr=0, local_cols=3, local_groups=2, local_row_step=4))
    assert regs.read(Register.PERF_DMA_RD_LO.value) == 0
    push(regs, encode(Opcode.LOAD, **spad, dram_addr=MAIN, dram_stride=16, rows=3, cols=5,
                      local_addr=20))
    # bytes of the bus words read (commands.read_bytes): a 10-byte row from an aligned address
    # takes three words
    assert regs.read(Register.PERF_DMA_RD_LO.value) == 3 * 3 * 4
    push(regs, encode(Opcode.COMPUTE, a_addr=0, w_addr=4, acc_addr=0, m=3, k=4, n=8,
                      diagonal=1))
    push(regs, encode(Opcode.COMPUTE, a_addr=0, w_addr=4, acc_addr=0, m=3, k=4, n=2,
                      diagonal=1, accumulate=1, a_cols=1, a_rows=3, a_row_step=1))
    assert regs.read(Register.PERF_MACS_LO.value) == 3 * 4 + 3 * 2
    assert regs.read(Register.ERROR.value) == 0
