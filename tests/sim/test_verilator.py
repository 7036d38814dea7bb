"""Model cache: built once, reused, never half-built under concurrent builders; the hash follows
the config. Uses a private build folder (DURE_BUILD) so the build really happens here."""

import io
import os
import pathlib
import subprocess
import sys

import pytest
from dure.sim.rtlgen import model_dir, model_hash, strip_zero_memory_init
from dure.sim.verilator import build_model

from dure.config import SoCConfig, preset

_BUILD = """
from dure.config import preset
from dure.sim.verif.toy_top import ToyTop
from dure.sim.verilator import build_model
print(build_model(preset("sim"), top=ToyTop, jobs=1))
"""


def test_concurrent_build_then_cache_hit(tmp_path, toy_top, monkeypatch):
    monkeypatch.setenv("DURE_BUILD", str(tmp_path))
    before = model_dir(preset("sim"), toy_top)
    env = dict(os.environ, DURE_BUILD=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", _BUILD], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [proc.communicate(timeout=1800) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    if model_dir(preset("sim"), toy_top) != before:
        pytest.skip("the toy's sources changed while the test ran (shared working tree)")
    paths = {out.strip() for out, _ in outputs}
    assert paths == {str(before / "plain" / "Vdure_sim_top")}
    exe = pathlib.Path(paths.pop())
    assert exe.is_file()
    # exactly one of the two built it; the other waited on the lock and reused it
    assert sum("building" in err for _, err in outputs) == 1
    assert not list(before.glob(".build-*"))

    mtime = exe.stat().st_mtime_ns
    log = io.StringIO()
    assert build_model(preset("sim"), top=toy_top, log=log) == exe
    assert log.getvalue() == ""                      # nothing built
    assert exe.stat().st_mtime_ns == mtime


def test_hash_follows_config(toy_top):
    base = model_hash(preset("sim"), toy_top)
    assert model_hash(preset("sim"), toy_top) == base
    assert model_hash(SoCConfig(main_latency=3), toy_top) != base
    assert model_hash(preset("sim")) != base          # the real SimTop


def test_bad_flavour():
    with pytest.raises(ValueError, match="flavour"):
        build_model(preset("sim"), flavour="ghw")


def test_strip_zero_memory_init():
    text = ("module m;\n  reg [7:0] mem [1:0];\n  initial begin\n    mem[0] = 8'd0;\n"
            "    mem[1] = 8'h00;\n  end\n  reg [7:0] rom [1:0];\n  initial begin\n"
            "    rom[0] = 8'd0;\n    rom[1] = 8'd5;\n  end\nendmodule\n")
    stripped = strip_zero_memory_init(text)
    assert "mem[0]" not in stripped and "mem[1]" not in stripped
    assert "rom[0] = 8'd0;" in stripped and "rom[1] = 8'd5;" in stripped   # data kept whole
