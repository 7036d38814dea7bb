"""The Verilator build service on its own: build folder, cache key, lock and rename, command line;
and that no other file in the tree builds a Verilator command (the service is the only one)."""

import pathlib
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
