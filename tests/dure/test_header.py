"""The generated C header compiles and carries the memory map from the config."""

import subprocess
import sys

from dure.config import preset
from dure.header import generate_header


def test_header_lists_every_region():
    config = preset("sim")
    text = generate_header(config)
    for region in config.regions:
        assert f"DURE_{region.name.upper()}_BASE" in text
        assert f"0x{region.base:08X}u" in text


def test_header_compiles_and_values_match(tmp_path):
    config = preset("sim")
    (tmp_path / "dure_soc.h").write_text(generate_header(config))
    (tmp_path / "check.c").write_text(
        '#include "dure_soc.h"\n'
        f"_Static_assert(DURE_RAM_BASE == {config.region('ram').base}u, \"ram\");\n"
        f"_Static_assert(DURE_RAM_SIZE == {config.ram_size}u, \"size\");\n"
        f"_Static_assert(DURE_RESET_VECTOR == {config.reset_vector}u, \"reset\");\n")
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "riscv32-freestanding-none",
                    "-c", "-o", str(tmp_path / "check.o"), "-I", str(tmp_path),
                    str(tmp_path / "check.c")], check=True)


def test_header_follows_the_npu_tiles(tmp_path):
    from dure.rtl.soc.registers import npu_irq

    config = preset("sim-4t")
    (tmp_path / "dure_soc.h").write_text(generate_header(config))
    checks = [f"_Static_assert(DURE_NPU{t}_BASE == DURE_NPU_BASE + {t} * DURE_NPU_TILE_STRIDE, "
              f"\"base {t}\");\n_Static_assert(DURE_NPU_TILE_IRQ({t}) == {npu_irq(t)}u, \"irq\");\n"
              for t in range(1, 4)]
    (tmp_path / "check.c").write_text(
        '#include "dure_soc.h"\n'
        "_Static_assert(DURE_NPU_TILES == 4u && DURE_MAIN_PORTS == 1u, \"tiles\");\n"
        "_Static_assert(DURE_NPU_TILE_IRQ(0) == 1u, \"irq 0\");\n"
        "_Static_assert(DURE_TILES_WAIT3 == 12u, \"wait counter\");\n" + "".join(checks))
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "riscv32-freestanding-none",
                    "-c", "-o", str(tmp_path / "check.o"), "-I", str(tmp_path),
                    str(tmp_path / "check.c")], check=True)
    assert "DURE_NPU_TILES 1u" in generate_header(preset("sim"))
    assert "DURE_TILES_BASE" not in generate_header(preset("sim"))
