"""``dure sweep``: a grid on a LocalCluster, on a scheduler and workers started as separate
processes with one worker killed mid-sweep, resume after an interrupted run, bad grids."""

import csv
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from dure.sim import sweep as sw

from dure.cli import main
from dure.commands import sweep as cmd
from dure.errors import UserError

BIN = pathlib.Path(sys.executable).parent

# distributed's in-process scheduler leaves its HTTP server socket to the garbage collector at
# times (a ResourceWarning raised inside a finalizer); that is the library's, not the sweep's.
pytestmark = [pytest.mark.filterwarnings("ignore::ResourceWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]


def _read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def _records(out):
    return {p.stem: json.loads(p.read_text()) for p in (out / "points").glob("*.json")}


def _wait(predicate, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_local_cluster_grid(tmp_path):
    grid = {"rows": [4, 8, 64], "tiles": [1, 2], "workload": ["gemm64", "kws_fc", "gemm32x48x24"],
            "precision": ["int8", "fp16"]}
    result = cmd.sweep(grid, out=tmp_path, workers=2)
    fields, rows = _read_csv(tmp_path / "sweep.csv")
    assert tuple(fields) == sw.COLUMNS
    want = [sw.run_point(p) for p in sw.points(grid)]
    assert len(rows) == len(want) == 36 and result["computed"] == 36
    for got, ref in zip(rows, want, strict=True):
        assert got == {k: str(v) for k, v in ref.items()}
    bad = [r for r in rows if r["rows"] == "64"]
    assert bad and all("npu_rows must be" in r["error"] and r["cycles"] == "" for r in bad)
    good = [r for r in rows if r["rows"] != "64"]
    assert all(r["error"] == "" and int(r["cycles"]) > 0 for r in good)
    # 8x8 is faster than 4x8 on a compute-bound GEMM
    cyc = {(r["rows"], r["tiles"], r["precision"], r["workload"]): int(r["cycles"]) for r in good}
    assert cyc[("8", "1", "int8", "gemm64")] < cyc[("4", "1", "int8", "gemm64")]
    assert (tmp_path / "utilization.png").stat().st_size > 0
    assert (tmp_path / "scaling.png").stat().st_size > 0


def test_resume_after_interrupted_run(tmp_path):
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text('[grid]\nrows = [4, 8]\ncols = [4, 8]\nworkload = ["gemm64", '
                         '"kws_fc", "ad_fc640"]\n[sweep]\nengine = "cost"\n')
    out = tmp_path / "out"
    env = dict(os.environ, **{cmd.DELAY_ENV: "0.7"})
    proc = subprocess.Popen([str(BIN / "dure"), "sweep", str(grid_file), "--out", str(out),
                             "--workers", "1", "--no-plots"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait(lambda: len(list((out / "points").glob("*.json"))) >= 3, 60, "3 finished points")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = _records(out)
    mtimes = {k: (out / "points" / f"{k}.json").stat().st_mtime_ns for k in before}
    assert 3 <= len(before) < 12 and not (out / "sweep.csv").exists()
    assert main(["sweep", str(grid_file), "--out", str(out), "--workers", "1",
                 "--no-plots"]) == 0
    after = _records(out)
    assert len(after) == 12
    # nothing finished was recomputed: the same files, untouched
    assert all((out / "points" / f"{k}.json").stat().st_mtime_ns == mtimes[k] for k in before)
    assert all(after[k] == before[k] for k in before)
    _, rows = _read_csv(out / "sweep.csv")
    assert len(rows) == 12
    assert len({tuple(r[a] for a in sw.AXES) for r in rows}) == 12
    # a rerun runs nothing
    again = cmd.sweep(cmd.load_grid_file(grid_file)[0], out=out, plots=False)
    assert again["computed"] == 0 and again["cached"] == 12


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_scheduler_with_killed_worker(tmp_path):
    from distributed import Client
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, **{cmd.DELAY_ENV: "0.8"})
    procs = []

    def start(*args):
        proc = subprocess.Popen([str(BIN / "dask"), *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address",
              ":0", "--no-show")
        workers = [start("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                         "--host", "127.0.0.1") for _ in range(2)]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        grid = {"rows": [4, 8], "cols": [4, 8], "workload": ["gemm64", "kws_fc", "kws_pw64"]}
        out = tmp_path / "out"
        result = {}
        thread = threading.Thread(target=lambda: result.update(
            cmd.sweep(grid, out=out, scheduler=address, plots=False)))
        thread.start()
        victim = workers[0]

        def victim_busy():
            return any(r["pid"] == victim.pid for r in _records(out).values()) \
                if (out / "points").exists() else False
        _wait(victim_busy, 60, "a point finished by the first worker")
        os.kill(victim.pid, signal.SIGKILL)       # in the middle of its next point
        victim.wait()
        thread.join(120)
        assert not thread.is_alive()
        assert result["computed"] == 12
        records = _records(out)
        assert len(records) == 12
        pids = {r["pid"] for r in records.values()}
        assert pids == {victim.pid, workers[1].pid}
        # the survivor finished everything after the kill (the victim's last task reran there)
        assert sum(r["pid"] == workers[1].pid for r in records.values()) >= 6
        _, rows = _read_csv(out / "sweep.csv")
        assert len(rows) == 12
        assert len({tuple(r[a] for a in sw.AXES) for r in rows}) == 12
        assert all(r["error"] == "" for r in rows)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.parametrize("text, words", [
    ('[grid]\nrowz = [4]\n', ["'rowz'"]),
    ('[grid]\nrows = [0]\n', ["'rows'", "0"]),
    ('[grid]\nworkload = ["nope"]\n', ["'workload'", "nope"]),
    ('[grid]\nprecision = ["int4"]\n', ["'precision'"]),
    ('[grid]\nmain_bandwidth = ["wide"]\n', ["'main_bandwidth'", "wide"]),
    ('[grid]\nrows = []\n', ["'rows'"]),
    ('[grids]\nrows = [4]\n', ["'grids'"]),
    ('[grid]\nrows = [4]\n[sweep]\nengin = "rtl"\n', ["'sweep.engin'"]),
    ('[grid]\nrows = [4\n', ["not valid TOML"]),
    ('[grid]\nrows = [4]\n[sweep]\nengine = "fast"\n', ["'fast'"]),
])
def test_bad_grid_file(tmp_path, capsys, text, words):
    path = tmp_path / "g.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dure: ")
    for word in words:
        assert word in err
    assert not (tmp_path / "o" / "sweep.csv").exists()


def test_bad_grid_spec():
    with pytest.raises(UserError, match="'cols'"):
        cmd.sweep(cmd.parse_grid_spec("rows=4;cols=x"), out="/nonexistent/never")
    with pytest.raises(UserError, match="KEY=V1"):
        cmd.parse_grid_spec("rows")


def test_main_bandwidth_axis(tmp_path):
    """``main_bandwidth``: the column comes last in the CSV (stable columns); several tiles get
    a port each when ``scaled`` (a point bound by a 1 B/cycle memory gets faster, a different
    SoC); one tile is the same SoC either way."""
    grid = cmd.parse_grid_spec("tiles=1,2;bytes_per_cycle=1;workload=gemv512,gemm256;"
                               "main_bandwidth=shared,scaled")
    result = cmd.sweep(grid, out=tmp_path, workers=1, plots=False)
    fields, rows = _read_csv(tmp_path / "sweep.csv")
    assert tuple(fields) == sw.COLUMNS and fields[-1] == "main_bandwidth"
    assert [r["main_bandwidth"] for r in rows] == ["shared", "scaled"] * 4
    cyc = {(r["tiles"], r["workload"], r["main_bandwidth"]): int(r["cycles"]) for r in rows}
    assert all(r["error"] == "" for r in result["rows"])
    for name in ("gemv512", "gemm256"):
        assert cyc[("2", name, "scaled")] < cyc[("2", name, "shared")]
    for name in ("gemv512", "gemm256"):
        assert cyc[("1", name, "scaled")] == cyc[("1", name, "shared")]
    one = dict(rows=8, cols=8, tiles=1, precision="int8", bytes_per_cycle=4, latency=10,
               workload="gemm64")
    assert sw.point_config({**one, "main_bandwidth": "scaled"}) == sw.point_config(one)
    two = sw.point_config({**one, "tiles": 2, "main_bandwidth": "scaled"})
    assert two.main_ports == 2 and two.name.endswith("-scaled")
    assert sw.point_config({**one, "tiles": 2}).main_ports == 1


def test_plots_with_synthesis_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("DURE_BUILD", str(tmp_path))
    (tmp_path / "sweep_synth.csv").write_text("rows,cols,luts\n4,8,1200\n8,8,2300\n")
    rows = [sw.run_point(p) for p in sw.points({"rows": [4, 8], "tiles": [1, 2]})]
    written = cmd.write_plots(rows, tmp_path)
    assert [p.name for p in written] == ["utilization.png", "scaling.png", "resources.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    # one tiles value and no synthesis figures: utilization only
    monkeypatch.setenv("DURE_BUILD", str(tmp_path / "none"))
    assert [p.name for p in cmd.write_plots(rows[:1], tmp_path)] == ["utilization.png"]


def test_rtl_engine_on_the_small_soc(tmp_path):
    """The ``rtl`` engine on the ``npu-small`` SoC (the model the firmware tests build): a GEMM
    and a layer bit-exact, cycles from the simulation; a workload without a tile split on two
    tiles is a recorded error."""
    grid = {"rows": [4], "cols": [4], "tiles": [1, 2],
            "workload": ["gemm24x40x12", "kws_fc"]}
    result = cmd.sweep(grid, engine="rtl", base="npu-small", out=tmp_path, workers=1,
                       plots=False)
    rows = {(r["tiles"], r["workload"]): r for r in result["rows"]}
    for name in ("gemm24x40x12", "kws_fc"):
        row = rows[(1, name)]
        assert row["error"] == "" and row["exact"] is True and row["cycles"] > row["macs"] / 16
        assert "no tile split" in rows[(2, name)]["error"]
