"""Rotating seeds: the run seed's sources, the derived seeds, and the pytest plugin (the ``rot``
cases, --rotate-slow, one seed for all xdist workers, the seed in a failure report), the plugin
exercised in a pytest subprocess on a small test file."""

import datetime
import os
import re
import subprocess
import sys

import pytest
from dure.sim.verif.seeds import derive_seed, resolve_run_seed


def test_resolve_run_seed():
    assert resolve_run_seed("123") == 123
    assert resolve_run_seed("0x10") == 16
    assert resolve_run_seed("date", today=datetime.date(2026, 12, 4)) == 20261204
    fresh = {resolve_run_seed("random") for _ in range(8)}
    assert len(fresh) > 1 and all(0 <= s < 2 ** 31 for s in fresh)
    for bad in ("-1", "x", ""):
        with pytest.raises(ValueError, match="non-negative integer, 'random' or 'date'"):
            resolve_run_seed(bad)


def test_derive_seed_depends_on_every_input():
    base = derive_seed(7, "t.py::f")
    assert base == derive_seed(7, "t.py::f")
    others = {derive_seed(8, "t.py::f"), derive_seed(7, "t.py::g"), derive_seed(7, "t.py::f", 1)}
    assert base not in others and len(others) == 3
    assert all(0 <= s < 2 ** 31 for s in others | {base})


PROBE = """
import pytest

@pytest.mark.parametrize("seed", [1, 2])
def test_seeded(seed):
    print("SEED", seed)
    assert seed != {fail}

@pytest.mark.parametrize("seed", [3, pytest.param(4, marks=pytest.mark.slow)])
def test_sweep(seed):
    print("SEED", seed)

def test_fixture(seed):
    print("SEED", seed)

@pytest.mark.fixed_seeds
@pytest.mark.parametrize("seed", [7])
def test_fixed(seed):
    print("SEED", seed)
"""


def _pytest(tmp_path, *args, fail=-1, env=None):
    (tmp_path / "test_probe.py").write_text(PROBE.format(fail=fail))
    command = [sys.executable, "-m", "pytest", "-p", "dure.sim.verif.pytest_seeds", "-s",
               "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(tmp_path),
               str(tmp_path / "test_probe.py"), *args]
    full_env = {k: v for k, v in os.environ.items() if k not in ("DURE_SEED", "DURE_RUN_SEED",
                                                                "PYTEST_XDIST_WORKER")}
    full_env.update(env or {})
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=full_env)
    return done.returncode, done.stdout


def _seeds(text):
    return [int(s) for s in re.findall(r"SEED (\d+)", text)]


def test_plugin_adds_a_rotating_case_and_repeats_it(tmp_path):
    status, out = _pytest(tmp_path, "--seed", "99", "-v")
    assert status == 0, out
    assert "dure run seed: 99" in out
    assert "test_seeded[rot]" in out and "test_sweep[rot]" in out
    assert "test_fixed[7]" in out and "test_fixed[rot]" not in out
    seeds = _seeds(out)
    assert seeds[:2] == [1, 2] and seeds[3:5] == [3, 4]
    assert seeds[2] == derive_seed(99, "test_probe.py::test_seeded")
    assert seeds[6] == derive_seed(99, "test_probe.py::test_fixture")
    # The same run seed from the environment repeats every case; another one changes them.
    assert _seeds(_pytest(tmp_path, env={"DURE_SEED": "99"})[1]) == seeds
    other = _seeds(_pytest(tmp_path, "--seed", "100")[1])
    assert other[:2] == [1, 2] and other[2] != seeds[2] and other[6] != seeds[6]


def test_rotate_slow_replaces_slow_seeds(tmp_path):
    _, out = _pytest(tmp_path, "--seed", "5", "--rotate-slow", "-v", "-k", "sweep")
    assert "test_sweep[3]" in out and "test_sweep[rot2]" in out
    assert _seeds(out)[:2] == [3, derive_seed(5, "test_probe.py::test_sweep", 2)]


def test_failure_report_names_the_seed(tmp_path):
    status, out = _pytest(tmp_path, "--seed", "42", "-k", "seeded", fail=2)
    assert status == 1
    assert "this case ran with seed=2 (run seed 42)" in out
    assert "make test SEED=42" in out


def test_bad_seed_is_a_usage_error(tmp_path):
    status, out = _pytest(tmp_path, "--seed", "soon")
    assert status == 4

