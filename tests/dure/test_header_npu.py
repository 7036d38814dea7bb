"""dure_npu.h: generated from the NPU command contract, compiles, values match Python."""

import re
import subprocess
import sys

from dure.rtl.npu import commands as c
from dure.rtl.npu.descriptor import FIELDS

from dure.config import SoCConfig, preset
from dure.header import NPU_CONFIG_FIELDS, generate_header, generate_npu_header


def _defines(text):
    names = re.findall(r"^#define (\w+) ", text, re.M)
    assert len(names) == len(set(names)), "duplicate names"
    return names


def test_names_are_unique_and_complete():
    text = generate_npu_header(preset("sim"))
    names = set(_defines(text))
    assert not names & set(_defines(generate_header(preset("sim"))))
    for reg in c.Register:
        assert f"DURE_NPU_{reg.name}" in names
    for code in c.ErrorCode:
        assert f"DURE_NPU_ERR_{code.name}" in names
    for opcode, fields in FIELDS.items():
        for name in fields:
            for suffix in ("WORD", "LSB", "WIDTH", "MASK"):
                assert f"DURE_NPU_{opcode.name}_{name.upper()}_{suffix}" in names


def test_config_fields_match_config_word():
    config = SoCConfig(npu_rows=5, npu_cols=7, npu_fp16=False, npu_spad_rows=512,
                       npu_acc_rows=64)
    word = c.config_word(config)
    get = {name: (word >> lsb) & ((1 << width) - 1)
           for name, (lsb, width) in NPU_CONFIG_FIELDS.items()}
    assert get == {"ROWS": 5, "COLS": 7, "FP16": 0, "GATHER": 0, "LOG2_SPAD_ROWS": 9,
                   "LOG2_ACC_ROWS": 6}
    # the 2:4 MAC-skipping path is discoverable: bit 13 on the sim preset, off elsewhere
    for name, gather in (("sim", 1), ("npu-small", 0)):
        lsb, _ = NPU_CONFIG_FIELDS["GATHER"]
        assert (c.config_word(preset(name)) >> lsb) & 1 == gather == preset(name).npu_gather


def test_header_compiles_and_values_match(tmp_path):
    config = preset("sim")
    (tmp_path / "dure_npu.h").write_text(generate_npu_header(config))
    f = FIELDS[c.Opcode.STORE]["zero_point"]
    (tmp_path / "check.c").write_text(
        '#include "dure_npu.h"\n'
        f"_Static_assert(DURE_NPU_DOORBELL == {c.Register.DOORBELL.value}u, \"doorbell\");\n"
        f"_Static_assert(DURE_NPU_ERR_DMA_WINDOW == {c.ErrorCode.DMA_WINDOW.value}u, \"err\");\n"
        f"_Static_assert(DURE_NPU_STORE_ZERO_POINT_MASK == {f.mask}u, \"mask\");\n"
        f"_Static_assert(DURE_NPU_STORE_ZERO_POINT_LSB == {f.lsb}u, \"lsb\");\n"
        f"_Static_assert(DURE_NPU_CONFIG_VALUE == {c.config_word(config)}u, \"config\");\n"
        f"_Static_assert(DURE_NPU_STATUS_QUEUE_FULL == {c.Status.QUEUE_FULL.value}u, \"st\");\n")
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "riscv32-freestanding-none",
                    "-c", "-o", str(tmp_path / "check.o"), "-I", str(tmp_path),
                    str(tmp_path / "check.c")], check=True)


def test_variant_without_npu():
    text = generate_npu_header(SoCConfig(npu_rows=0))
    assert "#define DURE_NPU_PRESENT 0" in text
    assert "DURE_NPU_ARRAY_ROWS" not in text
    assert "DURE_NPU_OP_LOAD" in text
