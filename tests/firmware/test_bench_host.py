"""The CPU benchmarks that carry their own host build (``#ifdef BENCH_HOST``: bench_mix,
bench_cmark) compute on the host the values they check on the core: built with the venv's
zig as a native program, each prints its ``#define EXPECT_*`` lines, which must be the ones
in the source (so an edit of the workload cannot leave a stale expectation that the core
then reproduces by accident or misses for the wrong reason)."""

import re
import subprocess
import sys

import pytest
from dure.sim.verif.firmware_build import FIRMWARE

BENCH_DIR = FIRMWARE / "bench"
HOST_BUILT = sorted(p for p in BENCH_DIR.glob("bench_*.c") if "BENCH_HOST" in p.read_text())
DEFINE = re.compile(r"^#define (EXPECT_\w+)\s+(0x[0-9A-Fa-f]+)u\s*$", re.M)


def test_host_built_benchmarks_exist():
    assert {p.name for p in HOST_BUILT} >= {"bench_mix.c", "bench_cmark.c"}


@pytest.mark.parametrize("source", HOST_BUILT, ids=lambda p: p.stem)
def test_expected_values_match_the_host_build(source, tmp_path):
    exe = tmp_path / source.stem
    build = subprocess.run(
        [sys.executable, "-m", "ziglang", "cc", "-O2", "-std=gnu11", "-Wall", "-Wextra",
         "-Werror", "-DBENCH_HOST", str(source), "-o", str(exe)],
        capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True)
    host = dict(DEFINE.findall(out.stdout))
    in_source = dict(DEFINE.findall(source.read_text()))
    assert host and set(host) == set(in_source), (host, in_source)
    assert {k: int(v, 16) for k, v in host.items()} == {
        k: int(v, 16) for k, v in in_source.items()}
