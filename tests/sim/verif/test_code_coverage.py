"""Code coverage files of Verilator (dure.sim.verif.code_coverage): reading, merging, module
names, blocks, the report; and the build service's coverage switch."""

import pytest
from dure.sim import verilator_build as vb
from dure.sim.verif import code_coverage as cc
from dure.sim.verif import coverage


def key(kind, module, line, comment, file="/m/dure_sim_top.v"):
    page = {"line": "v_line", "branch": "v_branch", "toggle": "v_toggle"}[kind]
    fields = [("f", file), ("l", str(line)), ("n", "3"), ("t", kind),
              ("page", f"{page}/{module}"), ("o", comment), ("h", f"TOP.{module}")]
    return "".join(f"\x01{n}\x02{v}" for n, v in fields)


def write(path, points):
    lines = ["# SystemC::Coverage-3"]
    for p in points:
        kind, module, line, comment, count, *file = p
        lines.append(f"C '{key(kind, module, line, comment, *file)}' {count}")
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")


CSR = "dure_sim_top.soc.core.m.csr"
TRAP = "dure_sim_top.soc.core.m.trap$81"
VALID = "dure_sim_top.soc.npu.control.dispatch.validator"
PE = "dure_sim_top.soc.npu.datapath.array.core.mesh.pe_0_1.add"


def test_module_names_and_blocks():
    assert cc.module_name(TRAP) == "core.m.trap"
    assert cc.module_name("dure_sim_top.soc") == "soc"
    assert cc.module_name("npu.control.queue.fifo") == "npu.control.queue.fifo"
    assert cc.block_of("core.m.trap") == ("core", "trap unit")
    assert cc.block_of("core.m.csr") == ("core", "CSR file")
    assert cc.block_of("core.m.stage") == ("core", "memory stage")
    assert cc.block_of("core.x.pmp_lo") == ("core", "PMP")
    assert cc.block_of("core.x.divider") == ("core", "divider")
    assert cc.block_of("core.x.alu") == ("core", "execute (X stage, ALU, shifter, branch, bypass)")
    assert cc.block_of("npu.control.dispatch.validator") == ("npu.control", "validator")
    assert cc.block_of("npu.control.dispatch") == ("npu.control", "dispatcher")
    assert cc.block_of("npu.datapath.array.core.mesh.pe_0_1") == ("npu.datapath", "array")
    assert cc.block_of("uart.regs") == ("soc", "uart.regs")


def test_merge_sums_equal_points_and_reports_blocks(tmp_path):
    write(tmp_path / "verilator-1-1.dat", [
        ("line", CSR, 10, "block", 0), ("branch", CSR, 11, "if", 2),
        ("toggle", CSR, 5, "x[0]:0->1", 0), ("toggle", CSR, 5, "x[0]:1->0", 1),
        ("line", TRAP, 20, "block", 0), ("line", VALID, 30, "block", 0),
        ("line", PE, 40, "block", 3)])
    write(tmp_path / "verilator-2-2.dat", [
        ("line", CSR, 10, "block", 4), ("line", VALID, 30, "block", 0)])
    (tmp_path / "other.dat").write_text("not read")
    merged, runs = cc.merge(tmp_path)
    assert runs == 2
    pts = {(p.module, p.line, p.comment): p for p in cc.points(merged)}
    assert pts[("core.m.csr", 10, "block")].count == 4
    assert pts[("core.m.trap", 20, "block")].count == 0
    table = cc.summarise(pts.values())
    f = "/m/dure_sim_top.v"
    assert table[(f, "core", "CSR file")] == {"line": [2, 2], "toggle": [1, 2]}
    assert table[(f, "core", None)] == {"line": [2, 3], "toggle": [1, 2]}
    assert table[(f, "npu.control", None)] == {"line": [0, 1], "toggle": [0, 0]}
    text, totals = cc.report(merged, runs)
    assert totals[(f, "core")] == ("66.7", "50.0")
    assert totals[(f, "npu.control")] == ("0.0", "-")
    assert "| core | CSR file | 2 | 2 | 100.0 | 1 | 2 | 50.0 |" in text
    assert "### Least-covered lines of `core` (1 of 3 never hit)" in text
    assert "| 0 | `core.m.trap` | 20 | block |" in text


def test_bad_files_are_refused(tmp_path):
    (tmp_path / "a.dat").write_text("hello\n")
    with pytest.raises(ValueError, match="not a Verilator coverage file"):
        cc.read(tmp_path / "a.dat")
    (tmp_path / "b.dat").write_text("# SystemC::Coverage-3\nC 'x' y\n")
    with pytest.raises(ValueError, match="b.dat:2: not a coverage point"):
        cc.read(tmp_path / "b.dat")


def test_coverage_report_includes_code_coverage(tmp_path):
    write(tmp_path / "verilator-1-1.dat", [("line", CSR, 10, "block", 1)])
    text, missing = coverage.main(tmp_path)
    assert missing and missing[0].startswith("core.trap (0 of ")      # no functional counts
    assert text.startswith("# Functional coverage")
    assert "# Code coverage" in text and "| **core** | **total** | 1 | 1 | **100.0** |" in text
    assert (tmp_path / "coverage.md").read_text() == text


def test_build_service_switch(monkeypatch, tmp_path):
    spec = vb.Verilation(top="t", sources=("t.v",))
    assert not set(vb.COVERAGE_ARGS) & set(spec.command(tmp_path, tmp_path))
    covered = vb.Verilation(top="t", sources=("t.v",), coverage=True).command(tmp_path, tmp_path)
    assert "--coverage-line" in covered and "--coverage-toggle" in covered
    monkeypatch.delenv(vb.CODE_COVERAGE_ENV, raising=False)
    assert vb.code_coverage_dir() is None
    monkeypatch.setenv(vb.CODE_COVERAGE_ENV, "relative/folder")
    with pytest.raises(ValueError, match="absolute"):
        vb.code_coverage_dir()
    monkeypatch.setenv(vb.CODE_COVERAGE_ENV, str(tmp_path / "cov"))
    assert vb.code_coverage_dir() == tmp_path / "cov" and (tmp_path / "cov").is_dir()


def test_build_model_switches_only_testbenches_that_write(monkeypatch, tmp_path):
    built = []
    monkeypatch.setattr(vb, "cached", lambda directory, make, **kw: built.append(directory))
    monkeypatch.setenv("DURE_BUILD", str(tmp_path))
    monkeypatch.setenv(vb.CODE_COVERAGE_ENV, str(tmp_path / "cov"))
    writer = vb.Verilation(top="t", sources=("t.v",), writes_coverage=True)
    other = vb.Verilation(top="t", sources=("t.v",))
    vb.build_model("k", "w", writer, files={"t.v": "module t; endmodule"}, log=None)
    vb.build_model("k", "o", other, files={"t.v": "module t; endmodule"}, log=None)
    monkeypatch.delenv(vb.CODE_COVERAGE_ENV)
    vb.build_model("k", "w", writer, files={"t.v": "module t; endmodule"}, log=None)
    names = [d.name for d in built]
    assert names[0].startswith("w-coverage-") and names[1].startswith("o-")
    assert names[2].startswith("w-") and "coverage" not in names[2]
    assert names[2].split("-")[-1] != names[0].split("-")[-1]     # another cache key


def test_fold_adds_runs_into_one_file(tmp_path):
    runs = tmp_path / "run-1"
    runs.mkdir()
    write(runs / "verilator-5-1.dat", [("line", CSR, 10, "block", 1)])
    write(runs / "verilator-6-2.dat", [("line", CSR, 10, "block", 2), ("line", TRAP, 3, "x", 0)])
    into = cc.fold(runs, tmp_path / "verilator-1-runs0.dat")
    assert into.name == "verilator-1-runs2.dat" and not list(runs.iterdir())
    write(runs / "verilator-7-3.dat", [("line", CSR, 10, "block", 4)])
    into = cc.fold(runs, into)
    assert into.name == "verilator-1-runs3.dat"
    assert [p.name for p in tmp_path.glob("*.dat")] == [into.name]
    merged, n = cc.merge(tmp_path)
    assert n == 3
    assert sorted(merged.values()) == [0, 7]
    with pytest.raises(ValueError, match="runs<n>"):
        write(runs / "verilator-8-4.dat", [("line", CSR, 10, "block", 4)])
        cc.fold(runs, tmp_path / "acc.dat")


def test_yosys_time_zero_triggers_are_not_lines(tmp_path):
    verilog = tmp_path / "top.v"
    verilog.write_text("module x;\n  always @* begin\n"
                       "    if (\\$auto$verilog_backend.cc:2355:dump_module$5 ) begin end\n"
                       "    y = 1;\n  end\nendmodule\n")
    runs = tmp_path / "runs"
    runs.mkdir()
    write(runs / "verilator-1-1.dat", [("branch", CSR, 3, "if", 0, str(verilog)),
                                       ("line", CSR, 4, "block", 5, str(verilog)),
                                       ("toggle", CSR, 3, "y:0->1", 0, str(verilog))])
    merged, _ = cc.merge(runs)
    pts = cc.points(merged)
    assert sorted((p.kind, p.line) for p in pts) == [("line", 4), ("toggle", 3)]
