"""Push-by-push trace of a lowered layer on the NPU's Verilator model: where a walked layer's
fixed cost goes (docs/layer_fixed_cost.md, "Session 15").

:func:`trace_script` turns a layer's descriptor list into a register script for
:class:`~dure.sim.verif.npu_verilator.NpuModel` that pushes each descriptor (CMD0..7 and
DOORBELL, as the firmware does) and, after each of the first ``watch`` pushes, reads
PERF_COMPUTE and PERF_GAPS; after the last push it waits for idle and reads PERF_FILL /
GAPS / DRAIN. :func:`trace_layer` runs it and returns one :class:`TracePoint` per watched
push: the cycle of its reads (from the first push), the rows the array has taken and the gap
cycles so far. A watched push takes ~22 cycles here (the core's ~19 on the SoC), so the
figures run a few cycles above the bench's (rn8_s2 INT8 npu fixed 330 here, 321 on the SoC).
Timing only: any operand values give the same cycles (the caller's inputs are used as given).

``python -m dure.sim.verif.walk_trace rn8_s2 [int8|fp16] [watch]`` traces a layer of
:data:`dure.sim.npu_bench.LAYERS` (a convolution or depthwise row) with the bench's operands and
prints one line per watched push (builds the 8x8 NPU model on first use: minutes).
"""

from dataclasses import dataclass

from dure.rtl.npu.commands import Control
from dure.rtl.npu.descriptor import decode

from . import npu_verilator as nv

__all__ = ["TracePoint", "trace_script", "trace_layer", "describe", "main"]

#: Counters read after each watched push, in this order.
WATCHED = ("PERF_COMPUTE_LO", "PERF_GAPS_LO")
#: Counters read once the layer is done, in this order.
FINAL = ("PERF_FILL_LO", "PERF_GAPS_LO", "PERF_DRAIN_LO")


@dataclass
class TracePoint:
    """The state after push ``index``: ``cycle`` (from the first push's response), array
    rows taken (``compute``) and gap cycles (``gaps``) so far, and the pushed descriptor."""

    index: int
    cycle: int
    compute: int
    gaps: int
    words: list


def trace_script(descriptors, base, size, watch):
    """Register script: DMA window ``[base, base + size)``, counters cleared, every descriptor
    pushed, the :data:`WATCHED` counters read after each of the first ``watch``, then idle and
    the :data:`FINAL` counters. Returns ``(script, marks)``: ``marks[i]`` is the index of push
    i's first read in the script."""
    if watch < 0:
        raise ValueError(f"watch must be >= 0, not {watch}")
    script = [nv.write("DMA_BASE", base), nv.write("DMA_SIZE", size),
              nv.write("CONTROL", Control.PERF_CLEAR.value)]
    marks = []
    for i, words in enumerate(descriptors):
        script += nv.submit(words)
        if i < watch:
            marks.append(len(script))
            script += [nv.read(name) for name in WATCHED]
    script += [nv.wait_idle()] + [nv.read(name) for name in FINAL]
    return script, marks


def trace_layer(model, program, inputs, *, base, size, watch=40):
    """Run ``program`` (a :class:`~dure.sim.layer_program.LayerProgram`) with ``inputs``
    (``[(addr, array)]``) on ``model`` (an NpuModel) whose main memory is ``size`` bytes at
    ``base``. Returns ``(points, (fill, gaps, drain))``."""
    image = bytearray(size)
    for addr, data in [(a, bytes(x.tobytes())) for a, x in inputs] + list(program.blobs):
        image[addr - base:addr - base + len(data)] = data
    script, marks = trace_script(program.descriptors, base, size, watch)
    run = model.run(script, image, base=base)
    t0 = int(run.stamps[3 + 8])                   # the first DOORBELL's response
    n = len(WATCHED)
    points = [TracePoint(i, int(run.stamps[m]) - t0, run.values[n * i],
                         run.values[n * i + 1], program.descriptors[i])
              for i, m in enumerate(marks)]
    return points, tuple(run.values[-len(FINAL):])


def describe(words):
    """One line for a descriptor: opcode, FILL, rows, SPAD / A address, weight address."""
    op, f = decode(words)
    name = getattr(op, "name", str(op))
    if f.get("fill"):
        name += " FILL"
    rows = f.get("rows", f.get("m"))
    local = f.get("local_addr", f.get("a_addr"))
    w = f" w={f['w_addr']}" if "w_addr" in f else ""
    return f"{name} rows={rows} at={local}{w}"


def main(argv=None):
    """Command line: see the module docstring."""
    import sys

    from dure.sim.npu_bench import LAYERS, _layer_calls, layer_operands

    from dure.config import MAIN_BASE, preset

    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit("usage: python -m dure.sim.verif.walk_trace LAYER [int8|fp16] [watch]")
    name, precision = args[0], args[1] if len(args) > 1 else "int8"
    watch = int(args[2]) if len(args) > 2 else 40
    rows = [row for row in LAYERS if row[0] == name]
    if not rows or rows[0][1] not in ("conv", "depthwise"):
        raise SystemExit(f"{name!r} is not a convolution or depthwise row of LAYERS")
    _, op, x_shape, cout, kernel, stride, padding = rows[0][:7]
    config = preset("sim")
    spec = layer_operands(op, x_shape, cout, kernel, precision, 0)
    planner, _ = _layer_calls(op, precision)
    x, w, bias = spec.pop("x"), spec.pop("w"), spec.pop("bias")
    size = 1 << 20
    program = planner(config, x.shape, w, bias, stride=stride, padding=padding,
                      x_addr=MAIN_BASE, out_addr=MAIN_BASE + (1 << 18),
                      param_addr=MAIN_BASE + (1 << 19), **spec)
    points, (fill, gaps, drain) = trace_layer(nv.build(config), program, [(MAIN_BASE, x)],
                                              base=MAIN_BASE, size=size, watch=watch)
    for p in points:
        print(f"{p.index:4d} t={p.cycle:6d} compute={p.compute:6d} gaps={p.gaps:5d}  "
              f"{describe(p.words)}")
    print(f"fill {fill}, gaps {gaps}, drain {drain}: npu fixed {fill + gaps + drain}")


if __name__ == "__main__":
    main()
