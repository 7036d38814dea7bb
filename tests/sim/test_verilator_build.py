"""The Verilator build service on its own: build folder, cache key, lock and rename, command line,
the runtime objects shared between models; and that no other file in the tree builds a Verilator
command (the service is the only one)."""

import pathlib
import shutil
import subprocess
import threading
import time

import pytest
from dure.sim import verilator_build as vb

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_build_root_honours_dure_build(tmp_path, monkeypatch):
    monkeypatch.setenv("DURE_BUILD", str(tmp_path))
    assert vb.build_root() == tmp_path.resolve()
    monkeypatch.delenv("DURE_BUILD")
    assert vb.build_root() == ROOT / "build"


def test_cache_key_follows_every_part():
    base = vb.cache_key(["module m; endmodule", b"tb"])
    assert base == vb.cache_key(["module m; endmodule", b"tb"])
    assert len(base) == 16
    assert vb.cache_key(["module m; endmodule", b"tb2"]) != base
    assert vb.cache_key(["module m;", " endmodule", b"tb"]) != base   # parts are delimited


def test_key_text_covers_flags_and_testbench(tmp_path):
    tb = tmp_path / "tb.cpp"
    tb.write_text("int main() { return 0; }\n")
    spec = vb.Verilation(top="m", sources=("m.v", tb))
    before = spec.key_text()
    assert "int main" in before
    assert spec.key_text() != vb.Verilation(top="m", sources=("m.v", tb), args=("-DX",)).key_text()
    assert spec.key_text() != vb.Verilation(top="m", sources=("m.v", tb),
                                            opt=("-O2", "-O1", "-O1")).key_text()
    tb.write_text("int main() { return 1; }\n")
    assert spec.key_text() != before


def test_command_has_the_common_flags(tmp_path):
    spec = vb.Verilation(top="m", sources=("m.v", tmp_path / "tb.cpp"), args=("--trace-vcd",))
    command = spec.command(tmp_path / "obj", tmp_path)
    assert command[0].endswith("/bin/verilator")
    assert pathlib.Path(command[0]).is_relative_to(vb.verilator_root())
    for flag in (*vb.WARNINGS, "--trace-vcd", "CFG_CXXFLAGS_PCH_I=-include"):
        assert flag in command
    assert command[-2:] == [str(tmp_path / "m.v"), str(tmp_path / "tb.cpp")]
    assert command[command.index("--top-module") + 1] == "m"
    assert command[command.index("--Mdir") + 1] == str(tmp_path / "obj")


def test_command_without_the_build_step(tmp_path):
    spec = vb.Verilation(top="m", sources=("m.v",))
    assert "--build" in spec.command(tmp_path, tmp_path)
    assert "--build" not in spec.command(tmp_path, tmp_path, build=False)
    binary = vb.Verilation(top="m", sources=("m.v",), binary=True)
    assert "--binary" in binary.command(tmp_path, tmp_path)
    split = binary.command(tmp_path, tmp_path, build=False)      # --binary without --build
    assert "--binary" not in split and "--build" not in split
    assert {"--main", "--exe", "--timing"} <= set(split)


def test_make_command_is_verilators(tmp_path, monkeypatch):
    spec = vb.Verilation(top="m", sources=("m.v",), jobs=2, opt=("-O2", "-O1", "-O3"))
    monkeypatch.delenv("MAKEFLAGS", raising=False)
    monkeypatch.delenv("MAKE", raising=False)
    command = vb.make_command(spec, tmp_path)
    assert command[:7] == ["make", "-C", str(tmp_path), "-f", "Vdut.mk", "-j", "2"]
    assert command[7:] == vb.make_flags(spec.opt)
    assert vb.make_command(vb.Verilation(top="m", sources=(), prefix=None), tmp_path)[4] == "Vm.mk"
    monkeypatch.setenv("MAKEFLAGS", " -j2 --jobserver-auth=fifo:/tmp/x")   # under make -j
    assert "-j" not in vb.make_command(spec, tmp_path)


_TOY_TB = """#include <cstdio>
#include "Vdut.h"
int main() { Vdut top; top.a = 5; top.eval(); std::printf("%d\\n", int(top.y)); return 0; }
"""


def _toy(tmp_path, label, add, **spec_args):
    """Build and run a one-adder model (y = a + add, run with a = 5); its output and folder."""
    tb = tmp_path / "tb.cpp"
    tb.write_text(_TOY_TB)
    spec = vb.Verilation(top="m", sources=("m.v", tb), **spec_args)
    verilog = f"module m(input [7:0] a, output [7:0] y); assign y = a + {add}; endmodule\n"
    exe = vb.build_model("toy", label, spec, files={"m.v": verilog}, log=None)
    run = subprocess.run([exe], capture_output=True, text=True, check=True)
    return run.stdout.strip(), exe.parent


def test_models_share_the_runtime_of_their_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("DURE_BUILD", str(tmp_path / "build"))
    runtimes = tmp_path / "build" / "verilator_rt"
    one, first = _toy(tmp_path, "one", 1)
    two, second = _toy(tmp_path, "two", 2)
    assert (one, two) == ("6", "7")
    built = [p for p in runtimes.iterdir() if p.is_dir()]
    assert len(built) == 1
    assert {"verilated.o", "verilated_threads.o"} <= {p.name for p in built[0].glob("*.o")}
    assert ".build-" not in (built[0] / "commands.txt").read_text()    # no model's folder
    for folder in (first, second):      # each linked the shared objects, compiled none of them
        log = (folder / "build.log").read_text()
        assert " verilated.o verilated_threads.o " in log and "verilated.cpp" not in log
    three, _ = _toy(tmp_path, "three", 3, args=("-CFLAGS", "-DDURE_TOY=1"))
    assert three == "8"
    assert len([p for p in runtimes.iterdir() if p.is_dir()]) == 2     # a flag: its own set


def test_made_from_finds_a_build_without_making_its_files(tmp_path, monkeypatch):
    monkeypatch.setenv("DURE_BUILD", str(tmp_path))
    monkeypatch.setattr(vb, "verilate", lambda spec, folder, files:
                        (folder / spec.output).write_text(files["m.v"]))
    made = []

    def files(text):
        return lambda: made.append(text) or {"m.v": text}

    spec = vb.Verilation(top="m", sources=("m.v",))

    def build(text, source):
        return vb.build_model("k", "m", spec, files=files(text), made_from=[source], log=None)

    first = build("v1", "sources 1")
    assert made == ["v1"] and first.read_text() == "v1"
    assert build("v1", "sources 1") == first and made == ["v1"]        # indexed: nothing made
    assert build("v1", "sources 2") == first and made == ["v1", "v1"]  # same text, same build
    other = build("v2", "sources 3")
    assert other != first and other.read_text() == "v2"
    shutil.rmtree(first.parent)                   # an index naming a removed build: rebuilt
    assert build("v1", "sources 1") == first and first.read_text() == "v1"
    assert made == ["v1", "v1", "v2", "v1"]


def test_cached_builds_once_under_the_lock(tmp_path):
    calls = []

    def make(folder):
        calls.append(folder)
        time.sleep(0.2)                     # the other thread arrives while this one builds
        (folder / "out").write_text("done")

    target = tmp_path / "kind" / "model-0123"
    threads = [threading.Thread(target=vb.cached, args=(target, make)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert (target / "out").read_text() == "done"
    assert not list(target.parent.glob(".build-*"))
    assert vb.cached(target, make) == target and len(calls) == 1


def test_default_log_is_the_stderr_of_build_time(tmp_path, monkeypatch):
    """``build_model``'s default log is looked up when a build starts: a stream bound at
    import time (a test's capture, closed since) made later builds fail with 'I/O operation
    on closed file'."""
    import inspect
    import io

    assert inspect.signature(vb.build_model).parameters["log"].default == vb.STDERR
    now = io.StringIO()
    monkeypatch.setattr("sys.stderr", now)
    vb.cached(tmp_path / "m", lambda folder: (folder / "out").write_text(""), log=vb.STDERR,
              what="a model")
    assert "building a model" in now.getvalue() and "built in" in now.getvalue()


def test_failed_build_leaves_nothing_in_place(tmp_path):
    def make(folder):
        (folder / "half").write_text("")
        raise RuntimeError("compiler exploded")

    target = tmp_path / "model"
    with pytest.raises(RuntimeError, match="exploded"):
        vb.cached(target, make)
    assert not target.exists()
    assert len(list(tmp_path.glob(".build-model-*"))) == 1       # kept for inspection


def test_write_atomic(tmp_path):
    path = vb.write_atomic(tmp_path / "sub" / "a.v", "module a; endmodule\n")
    assert path.read_text() == "module a; endmodule\n"
    assert [p.name for p in path.parent.iterdir()] == ["a.v"]


_SCANNED = ("rtl", "sim", "dure", "fpga", "tests")
# Pieces of a Verilator command line or of a private build cache.
_MARKERS = ('"--Mdir"', '"-MAKEFLAGS"', '"--top-module"', '/ "verilator"', "'verilator'",
            "CFG_CXXFLAGS_PCH_I", ".build(sources=")


def test_only_the_service_runs_verilator():
    service = ROOT / "sim" / "verilator_build.py"
    this = pathlib.Path(__file__).resolve()
    offenders = []
    for folder in _SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.resolve() in (service, this):
                continue
            text = path.read_text()
            offenders += [f"{path.relative_to(ROOT)}: {m}" for m in _MARKERS if m in text]
    assert not offenders, "\n".join(offenders)
