"""The whole :class:`~dure.rtl.npu.npu.Npu` on Verilator, programmed through its register port by
a C++ loop (no Python per cycle), with a main memory on its DMA port: for throughput measurements
of long command programs at full size (8x8), which Amaranth's simulator runs too slowly.

:func:`build` converts ``Npu(config)`` to Verilog and compiles it with the testbench
``npu_verilator.cpp`` beside this file through the build service (:mod:`dure.sim.verilator_build`,
folder ``build/npu_verilator/``). :meth:`NpuModel.run` plays a *script* of register operations
(:func:`write`, :func:`read`, :func:`wait_idle`; a DOORBELL write waits for its grant while the
queue is full, as on the SoC) one after another, each starting the cycle after the previous
one's response, and serves the DMA port from a byte image like the SoC's main memory: a grant
every ``4 / bytes_per_cycle`` cycles, responses ``latency`` cycles after the grant (or err in
a chosen address range). It returns
the values read, the cycle of each operation's response and the final image.
"""

import pathlib
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
from amaranth.back import verilog
from dure.rtl.npu.commands import DESCRIPTOR_WORDS, Register, Status

from ..verilator_build import STDERR, Verilation, build_model

__all__ = ["NpuModel", "NpuRun", "build", "write", "read", "wait_idle", "submit"]

_WRITE, _READ, _WAIT_IDLE = 0, 1, 2

_TESTBENCH = pathlib.Path(__file__).resolve().with_suffix(".cpp")


def write(register, value):
    """Script operation: write ``value`` to ``register`` (a :class:`Register` or its name)."""
    return (_WRITE, Register[register] if isinstance(register, str) else register, value)


def read(register):
    """Script operation: read ``register``; the value goes to :attr:`NpuRun.values`."""
    return (_READ, Register[register] if isinstance(register, str) else register, 0)


def wait_idle():
    """Script operation: read STATUS until its BUSY bit is clear."""
    return (_WAIT_IDLE, Register.STATUS, 0)


def submit(words):
    """Script operations that push one descriptor (CMD0..7 and DOORBELL)."""
    assert len(words) == DESCRIPTOR_WORDS
    return [write(f"CMD{i}", w) for i, w in enumerate(words)] + [write("DOORBELL", 0)]


@dataclass
class NpuRun:
    """Result of :meth:`NpuModel.run`."""
    values: list             # register reads, in script order
    stamps: np.ndarray       # cycle of each operation's (last) response
    memory: bytearray


class NpuModel:
    """A compiled Verilator model of ``Npu(config)``."""

    def __init__(self, executable, config):
        self.executable, self.config = executable, config

    def run(self, script, image, *, base, latency=None, bytes_per_cycle=None, error=None):
        """Runs ``script`` (a list of operations) with main memory ``image`` at ``base``;
        ``error = (first, end)`` byte addresses: accesses there answer err (writes change
        nothing)."""
        cfg = self.config
        latency = cfg.main_latency if latency is None else latency
        bpc = cfg.main_bytes_per_cycle if bytes_per_cycle is None else bytes_per_cycle
        err_lo, err_hi = (0, 0) if error is None else (error[0] - base, error[1] - base)
        head = [len(script), base, len(image), latency, 4 // bpc,
                Status.BUSY.value.bit_length() - 1, err_lo, err_hi]
        body = np.array(head + [x for kind, reg, value in script
                                for x in (kind, reg.value // 4, value & 0xFFFF_FFFF)],
                        "<u4").tobytes() + bytes(image)
        with tempfile.TemporaryDirectory(dir=self.executable.parent, prefix="run-") as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "in.bin").write_bytes(body)
            result = subprocess.run([str(self.executable), str(tmp / "in.bin"),
                                     str(tmp / "out.bin")], capture_output=True, text=True)
            if result.returncode != 0:
                raise AssertionError(f"npu model failed: {result.stderr.strip()}")
            out = (tmp / "out.bin").read_bytes()
        n = int(np.frombuffer(out[:4], "<u4")[0])
        values = [int(v) for v in np.frombuffer(out[4:4 + 4 * n], "<u4")]
        at = 4 + 4 * n
        stamps = np.frombuffer(out[at:at + 8 * len(script)], "<u8")
        return NpuRun(values, stamps, bytearray(out[at + 8 * len(script):]))


def _rtl_key(config):
    """Cache-key parts of ``Npu(config)``'s Verilog: the configuration and every file under
    ``rtl/`` (listing them is cheap; elaborating the 8x8 NPU takes tens of seconds)."""
    import dure.rtl

    rtl = pathlib.Path(dure.rtl.__file__).resolve().parent
    return [repr(config)] + [f"{path.relative_to(rtl)}\0{path.read_text()}"
                             for path in sorted(rtl.rglob("*.py"))]


def build(config, *, log=STDERR):
    """Compile ``Npu(config)`` into a :class:`NpuModel` (with ``npu_list_port`` the LIST
    fetcher's port joined to the DMA's, :func:`~.npu_one_port.one_port_npu`: one main memory
    serves both), reusing a cached build (the key is
    the configuration and the source of ``rtl/``, so a cached model costs no elaboration; see
    :func:`dure.sim.verilator_build.build_model`)."""
    from .npu_one_port import one_port_npu

    spec = Verilation(top="npu", sources=("npu.v", _TESTBENCH), writes_coverage=True)
    name = f"{config.npu_rows}x{config.npu_cols}{'' if config.npu_fp16 else '-int8'}"
    executable = build_model("npu_verilator", name, spec,
                             files=lambda: {"npu.v": verilog.convert(one_port_npu(config),
                                                                     name="npu",
                                                                     emit_src=False)},
                             key=_rtl_key(config), log=log)
    return NpuModel(executable, config)
