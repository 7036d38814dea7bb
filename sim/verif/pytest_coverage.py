"""pytest plugin of the functional and code coverage (loaded by ``tests/conftest.py``).

Functional: at the end of a session, when ``$DURE_COVERAGE_DIR`` is set, each process (every
xdist worker) writes the coverpoint counts its tests hit (:mod:`dure.sim.verif.coverage`) into
that folder. Code: when ``$DURE_CODE_COVERAGE`` is set, each process that runs tests points it
at a subfolder of its own (``run-<pid>``, from its first test on) for the Verilator runs of its
tests, and after every test folds what they wrote into ``verilator-<pid>-runs<n>.dat`` in the
folder (:func:`dure.sim.verif.code_coverage.fold`; one SoC run writes ~140 MB). ``make
coverage`` sets both, runs the tests and prints the merged report."""

import os
import pathlib

import pytest

from ..verilator_build import CODE_COVERAGE_ENV
from . import code_coverage, coverage

__all__ = []

_state = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # In the processes that run tests only (an xdist controller must hand the folder itself
    # to its workers), before the first test's fixtures start any model.
    folder = os.environ.get(CODE_COVERAGE_ENV)
    if folder and "runs" not in _state:
        top = pathlib.Path(folder)
        runs = top / f"run-{os.getpid()}"
        runs.mkdir(parents=True, exist_ok=True)
        _state.update(top=top, runs=runs, into=top / f"verilator-{os.getpid()}-runs0.dat")
        os.environ[CODE_COVERAGE_ENV] = str(runs)


def pytest_runtest_teardown(item):
    if "runs" in _state:
        _state["into"] = code_coverage.fold(_state["runs"], _state["into"])


def pytest_sessionfinish(session):
    folder = os.environ.get(coverage.COVERAGE_ENV)
    if folder:
        coverage.dump(folder)
    if "runs" in _state:
        _state["into"] = code_coverage.fold(_state["runs"], _state["into"])
        try:
            _state["runs"].rmdir()
        except OSError:
            pass
