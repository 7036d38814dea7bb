"""The inline descriptor builders of firmware/include/npu_cmd.h for walked COMPUTEs, diagonal,
fill, 2-D placed and packed-weight LOADs: built for the host with zig cc, run, and compared
word for word with :func:`dure.rtl.npu.descriptor.encode`."""

import pathlib
import subprocess
import sys

from dure.rtl.npu.commands import ElemType, EltwiseOp, LoadTarget, Opcode, Precision, WeightFormat
from dure.rtl.npu.descriptor import encode

from dure.config import preset
from dure.header import generate_header, generate_npu_header

FIRMWARE = pathlib.Path(__file__).resolve().parents[2] / "firmware"

PROGRAM = r"""
#include <stdio.h>
#include "npu_cmd.h"

static void show(const uint32_t d[8])
{
    for (int i = 0; i < 8; i++)
        printf("%u%c", (unsigned)d[i], i == 7 ? '\n' : ' ');
}

int main(void)
{
    uint32_t d[8];
    npu_cmd_compute(d, DURE_NPU_PREC_FP16, 1, 70, 900, 12, 6, 8, 5);
    npu_cmd_compute_walk(d, 3, 2, 2, 68);
    npu_cmd_compute_diagonal(d, 1);
    show(d);
    npu_cmd_fill(d, DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, 0xFFFFFF80u, 34, 8, 33);
    npu_cmd_load_place(d, 1, 34, 34);
    show(d);
    npu_cmd_fill(d, DURE_NPU_TARGET_ACC, DURE_NPU_ELEM_WORD32, 0x80000001u, 4, 8, 1000);
    show(d);
    npu_cmd_load(d, DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_FP16, 0, 0x40000100u, 32, 64, 8, 35);
    npu_cmd_load_place(d, 32, 2, 34);
    show(d);
    npu_cmd_eltwise_max(d, DURE_NPU_PREC_FP16, 1, 71, 13, 6, 7);
    npu_cmd_eltwise_walk(d, 3, 2, 2, 68);
    show(d);
    npu_cmd_eltwise_add(d, 5, 300, 9, 40, 8, -128, -2147483647 - 1, 31, 127, 1073741824, 0);
    show(d);
    npu_cmd_load(d, DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_FP16, 0, 0x40000201u, 4, 32, 8, 7);
    npu_cmd_load_weights(d, DURE_NPU_WFMT_INT4_FP16, 0x40000400u);
    show(d);
    npu_cmd_load(d, DURE_NPU_TARGET_SPAD, DURE_NPU_ELEM_INT8, 0, 0x40000203u, 20, 16, 8, 9);
    npu_cmd_load_weights(d, DURE_NPU_WFMT_SPARSE24, 0);
    show(d);
    return 0;
}
"""


def test_builders_match_encode(tmp_path):
    config = preset("sim")
    (tmp_path / "dure_npu.h").write_text(generate_npu_header(config))
    (tmp_path / "dure_soc.h").write_text(generate_header(config))
    (tmp_path / "check.c").write_text(PROGRAM)
    exe = tmp_path / "check"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-O1", "-o", str(exe),
                    "-I", str(tmp_path), "-I", str(FIRMWARE / "include"),
                    str(tmp_path / "check.c")], check=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    got = [[int(v) for v in line.split()] for line in lines]
    assert got == [
        encode(Opcode.COMPUTE, precision=Precision.FP16, accumulate=1, a_addr=70, w_addr=900,
               acc_addr=12, m=6, k=8, n=5, a_cols=3, a_rows=2, a_col_step=2, a_row_step=68,
               diagonal=1),
        encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, fill=1,
               fill_value=0xFFFF_FF80, rows=34, cols=8, local_addr=33, local_cols=1,
               local_groups=34, local_row_step=34),
        encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, fill=1,
               fill_value=0x8000_0001, rows=4, cols=8, local_addr=1000),
        encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=0x4000_0100,
               dram_stride=32, rows=64, cols=8, local_addr=35, local_cols=32, local_groups=2,
               local_row_step=34),
        encode(Opcode.ELTWISE, precision=Precision.FP16, op=EltwiseOp.MAX, accumulate=1,
               a_addr=71, acc_addr=13, m=6, n=7, a_cols=3, a_rows=2, a_col_step=2,
               a_row_step=68),
        encode(Opcode.ELTWISE, op=EltwiseOp.ADD, a_addr=5, b_addr=300, acc_addr=9, m=40, n=8,
               zp_a=-128, mult_a=-(1 << 31), rshift_a=31, zp_b=127, mult_b=1 << 30,
               rshift_b=0),
        encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=0x4000_0201,
               dram_stride=4, rows=32, cols=8, local_addr=7,
               weight_format=WeightFormat.INT4_FP16, scale_addr=0x4000_0400),
        encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=0x4000_0203,
               dram_stride=20, rows=16, cols=8, local_addr=9,
               weight_format=WeightFormat.SPARSE24),
    ]
