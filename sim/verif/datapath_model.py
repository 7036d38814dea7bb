"""NpuDatapath on Verilator, driven by a C++ loop (no Python per cycle), with a main memory.

:func:`build` converts an :class:`~dure.rtl.npu.datapath.NpuDatapath` to Verilog and compiles it
with the testbench ``datapath_model.cpp`` beside this file through the build service
(:mod:`dure.sim.verilator_build`, folder ``build/npu_datapath/``). :meth:`DatapathModel.run`
plays a list of :class:`~dure.sim.verif.npu_datapath.Command` through it: the testbench
dispatches them in order, each once the earlier commands it depends on have pulsed done (a
dispatcher's hazard rule), with optional random idle cycles, and serves the bus from a byte
image like the SoC's main memory (a grant every ``4 / bytes_per_cycle`` cycles, fixed latency)
plus optional random grant stalls, latency jitter and error words. It returns the final image,
per-command issue and done cycles and error flags, and the sums of the performance events.
"""

import pathlib
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
from amaranth.back import verilog
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import command_layout

from ..rtlgen import class_sources
from ..verilator_build import STDERR, Verilation, build_model
from .npu_datapath import dependencies

__all__ = ["DatapathModel", "DatapathRun", "build"]

_UNITS = {"load": (0, Opcode.LOAD), "exec": (1, Opcode.COMPUTE), "store": (2, Opcode.STORE)}
_PW = 8   # 32-bit words per command payload in the input file

_TESTBENCH = pathlib.Path(__file__).resolve().with_suffix(".cpp")


@dataclass
class DatapathRun:
    """Result of :meth:`DatapathModel.run` (cycles count from the end of reset)."""
    memory: bytearray
    issue: np.ndarray        # cycle each command was accepted
    done: np.ndarray         # cycle of each command's done pulse
    errors: np.ndarray       # bus error flag per command
    cycles: int
    events: dict             # sums: rows, macs, rd_bytes, wr_bytes, stall_mem, stall_out


class DatapathModel:
    """A compiled Verilator model of one :class:`NpuDatapath` configuration."""

    def __init__(self, executable, config):
        self.executable, self.config = executable, config

    def run(self, commands, image, *, base, deps=None, latency=None, bytes_per_cycle=None,
            stall=0.0, jitter=0, idle=0.0, err_words=(), seed=1, max_cycles=10_000_000):
        """Run ``commands`` against main memory ``image`` at byte address ``base``.

        ``deps`` defaults to :func:`~.npu_datapath.dependencies`; ``latency`` and
        ``bytes_per_cycle`` to the config's main memory; ``stall`` (probability of a withheld
        grant), ``idle`` (of an idle dispatch cycle) and ``jitter`` (extra latency, 0..jitter)
        add randomness. Raises AssertionError when the model fails (timeout, stray pulse).
        """
        cfg = self.config
        deps = dependencies(commands, cfg) if deps is None else deps
        latency = cfg.main_latency if latency is None else latency
        bpc = cfg.main_bytes_per_cycle if bytes_per_cycle is None else bytes_per_cycle
        words = [len(commands), base, len(image), latency, 4 // bpc, int(round(stall * 1000)),
                 jitter, int(round(idle * 1000)), seed, len(err_words),
                 max_cycles & 0xFFFF_FFFF, max_cycles >> 32]
        body = bytearray(np.array(words, "<u4").tobytes()) + bytes(image)
        body += np.array(list(err_words), "<u4").tobytes()
        for cmd, dep in zip(commands, deps, strict=True):
            code, opcode = _UNITS[cmd.unit]
            layout = command_layout(opcode)
            fields = {k: int(getattr(v, "value", v)) for k, v in cmd.fields.items()}
            value = layout.const(fields).as_value().value
            body += np.array([code] + [(value >> (32 * i)) & 0xFFFF_FFFF for i in range(_PW)]
                             + [len(dep)] + list(dep), "<u4").tobytes()
        with tempfile.TemporaryDirectory(dir=self.executable.parent, prefix="run-") as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "in.bin").write_bytes(body)
            result = subprocess.run([str(self.executable), str(tmp / "in.bin"),
                                     str(tmp / "out.bin")], capture_output=True, text=True)
            if result.returncode != 0:
                raise AssertionError(f"datapath model failed: {result.stderr.strip()}")
            out = (tmp / "out.bin").read_bytes()
        head = np.frombuffer(out[:56], "<u8")
        per = np.frombuffer(out[56:56 + 24 * len(commands)], "<i8").reshape(-1, 3)
        names = ("rows", "macs", "rd_bytes", "wr_bytes", "stall_mem", "stall_out")
        return DatapathRun(bytearray(out[56 + 24 * len(commands):]), per[:, 0], per[:, 1],
                           per[:, 2].astype(bool), int(head[0]),
                           dict(zip(names, map(int, head[1:]), strict=True)))


def build(config, *, log=STDERR):
    """Compile ``NpuDatapath(config)`` into a :class:`DatapathModel`, reusing a cached build
    (the key is the Verilog text; see :func:`dure.sim.verilator_build.build_model`). A build
    made before from the same configuration and sources (:func:`dure.sim.rtlgen.class_sources`)
    is found without elaborating the datapath again (``made_from``)."""
    from dure.rtl.npu.datapath import NpuDatapath

    spec = Verilation(top="npu_datapath", sources=("npu_datapath.v", _TESTBENCH))
    name = f"{config.npu_rows}x{config.npu_cols}{'' if config.npu_fp16 else '-int8'}"
    made_from = [repr(config)] + [f"{path}\0{path.read_text()}"
                                  for path in class_sources(NpuDatapath)]
    executable = build_model(
        "npu_datapath", name, spec, made_from=made_from, log=log,
        files=lambda: {"npu_datapath.v": verilog.convert(NpuDatapath(config), name="npu_datapath",
                                                         emit_src=False)})
    return DatapathModel(executable, config)
