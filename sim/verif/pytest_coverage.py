"""pytest plugin of the functional coverage (loaded by ``tests/conftest.py``): at the end of a
session, when ``$DURE_COVERAGE_DIR`` is set, each process (every xdist worker) writes the
coverpoint counts its tests hit (:mod:`dure.sim.verif.coverage`) into that folder. ``make
coverage`` sets it, runs the tests that carry coverpoints and prints the merged report."""

import os

from . import coverage

__all__ = []


def pytest_sessionfinish(session):
    folder = os.environ.get(coverage.COVERAGE_ENV)
    if folder:
        coverage.dump(folder)
