"""The NPU job table (sim/npu_job_table.py): its generated C header compiles and matches the
field lists, and the field lists are importable from dure.sim.npu_job as before."""

import subprocess

from dure.sim import npu_job, npu_job_table

from dure.config import preset

CONFIG = preset("npu-small")   # the test suite's NPU variant (tests/conftest.py)


def test_header_compiles_and_matches_the_fields(tmp_path):
    text = npu_job_table.generate_header(CONFIG)
    (tmp_path / "npu_job.h").write_text(text)
    probe = tmp_path / "probe.c"
    probe.write_text('#include "npu_job.h"\n#include <stddef.h>\n'
                     f"_Static_assert(offsetof(struct npu_job_layer, cpu_out) == "
                     f"{4 * npu_job_table.LAYER_FIELDS.index('cpu_out')}, \"cpu_out\");\n"
                     f"_Static_assert(offsetof(struct npu_job_layer, perf_drain_hi) == "
                     f"{4 * (npu_job_table.LAYER_WORDS - 1)}, \"last\");\n"
                     "int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-std=c11", "-fsyntax-only", f"-I{tmp_path}", str(probe)],
                   check=True)
    assert f"#define NPU_JOB_TABLE_ADDR 0x{CONFIG.region('main').base:08X}u" in text
    assert f"#define NPU_JOB_MAGIC 0x{npu_job_table.MAGIC:08X}u" in text


def test_names_stay_importable_from_npu_job():
    for name in ("MAGIC", "VERSION", "HEADER_FIELDS", "LAYER_FIELDS", "LAYER_WORDS",
                 "FLAG_CPU_CHECK", "KIND_GEMM", "KIND_CONV2D", "KIND_COMMANDS", "KIND_LIST",
                 "PRECISIONS", "OUT_TYPES", "LEGAL_OUT", "table_address", "generate_header"):
        assert getattr(npu_job, name) is getattr(npu_job_table, name), name
