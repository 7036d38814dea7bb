"""pytest plugin of the rotating seeds (loaded by ``tests/conftest.py``); the arithmetic is in
:mod:`dure.sim.verif.seeds`.

The run has one seed, from ``--seed`` (an integer, ``random`` or ``date``), else
``DURE_SEED``, else the date; the report header prints it. Every test parametrized over
``seed`` keeps its fixed seeds (the regression seeds that found past bugs) and gets one more
case, id ``rot``, with a seed derived from the run seed and the test's name; with
``--rotate-slow`` (``make fuzz``) the seeds of its slow cases (ids ``rot<i>``) are derived from
the run seed too, so every sweep explores new cases. A test with a ``seed`` argument and no
parametrization gets the derived seed from the ``seed`` fixture. A failing test that used a
seed shows it and the command that repeats it (``make test SEED=<run seed>``). A test marked
``@pytest.mark.fixed_seeds`` keeps exactly its listed seeds (for expensive seeded tests). Under
pytest-xdist the controlling process picks the run seed and the workers inherit it.
"""

import os

import pytest

from .seeds import SEED_ENV, derive_seed, resolve_run_seed

__all__ = ["run_seed"]

#: Set by the controlling pytest process, read by xdist workers: one run seed for all.
_RESOLVED_ENV = "DURE_RUN_SEED"
_SEED_KEY = pytest.StashKey[int]()


def pytest_addoption(parser):
    group = parser.getgroup("dure")
    group.addoption("--seed", default=None, metavar="N|random|date",
                    help=f"run seed of the random tests (default: ${SEED_ENV}, else the date)")
    group.addoption("--rotate-slow", action="store_true",
                    help="derive the seeds of slow seeded cases from the run seed (make fuzz)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "fixed_seeds: run only the listed seeds (no rotating case), for seeded tests "
        "too expensive to run once more in every make test")
    if os.environ.get("PYTEST_XDIST_WORKER") and _RESOLVED_ENV in os.environ:
        seed = int(os.environ[_RESOLVED_ENV])
    else:
        text = config.getoption("--seed") or os.environ.get(SEED_ENV) or "date"
        try:
            seed = resolve_run_seed(text)
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None
        os.environ[_RESOLVED_ENV] = str(seed)     # inherited by the xdist workers
    config.stash[_SEED_KEY] = seed


def run_seed(config):
    """The run seed of a pytest session (``config``)."""
    return config.stash[_SEED_KEY]


def pytest_report_header(config):
    seed = run_seed(config)
    return f"dure run seed: {seed} (repeat the rotating cases: make test SEED={seed})"


def _is_slow(value):
    return any(m.name == "slow" for m in getattr(value, "marks", ()))


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    """Adds the ``rot`` case to every ``@pytest.mark.parametrize("seed", ...)`` of the test
    function (and with --rotate-slow, derives its slow cases' seeds from the run seed)."""
    if "seed" not in metafunc.fixturenames or \
            metafunc.definition.get_closest_marker("fixed_seeds") is not None:
        return
    definition = metafunc.definition
    seed, name = run_seed(metafunc.config), definition.nodeid
    slow_function = definition.get_closest_marker("slow") is not None
    rotate_slow = metafunc.config.getoption("--rotate-slow")
    for position, mark in enumerate(definition.own_markers):
        if mark.name != "parametrize" or mark.args[0] != "seed" or len(mark.args) != 2:
            continue
        values = []
        for index, value in enumerate(mark.args[1]):
            if rotate_slow and (slow_function or _is_slow(value)):
                marks = getattr(value, "marks", ())
                value = pytest.param(derive_seed(seed, name, index + 1), marks=marks,
                                     id=f"rot{index + 1}")
            values.append(value)
        values.append(pytest.param(derive_seed(seed, name), id="rot"))
        kwargs = dict(mark.kwargs)
        if isinstance(kwargs.get("ids"), list | tuple):
            kwargs["ids"] = [*kwargs["ids"], "rot"]
        definition.own_markers[position] = pytest.mark.parametrize("seed", values,
                                                                   **kwargs).mark


@pytest.fixture
def seed(request):
    """The derived seed of a test that takes ``seed`` without parametrizing it."""
    return derive_seed(run_seed(request.config), request.node.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        params = getattr(getattr(item, "callspec", None), "params", {})
        value = params.get("seed", item.funcargs.get("seed") if hasattr(item, "funcargs")
                           else None)
        if value is not None:
            base = run_seed(item.config)
            report.sections.append((
                "dure seed",
                f"this case ran with seed={value} (run seed {base}); repeat it with "
                f"make test SEED={base} ARGS='{item.nodeid}' or pytest --seed {base} "
                f"'{item.nodeid}'"))
    return report


def pytest_terminal_summary(terminalreporter, config):
    """The run seed again at the end (the header is hidden under ``-q``, which make test uses)."""
    seed = run_seed(config)
    terminalreporter.write_line(f"dure run seed: {seed} (repeat: make test SEED={seed})")
