"""Seeds of the random tests: one run seed, and the per-test seeds derived from it.

A test run has one **run seed** (an integer). Every random test that takes a ``seed``
argument gets, besides its fixed regression seeds, seeds derived from the run seed and the
test's name, so a new run seed explores new cases and the same run seed repeats them exactly
(``make test SEED=<n>``, ``pytest --seed <n>`` or ``DURE_SEED=<n>``). The pytest side (the
``--seed`` option, the extra ``rot`` cases, the seed in failure reports) is in
``tests/conftest.py``; this module is the arithmetic, kept free of pytest.

Run seed sources, first one given wins: ``--seed`` on the pytest command line, the
``DURE_SEED`` environment variable, else the date. The word ``random`` asks for a fresh seed
(what ``make fuzz`` uses), ``date`` for the UTC date as ``YYYYMMDD`` (the default of ``make
test``: every run of one day explores the same cases, so a failure seen once is seen again
that day; the next day explores new ones).
"""

import datetime
import hashlib
import secrets

__all__ = ["SEED_ENV", "resolve_run_seed", "derive_seed"]

#: Environment variable that sets the run seed when ``--seed`` is not given.
SEED_ENV = "DURE_SEED"

_MAX = 2 ** 31          # derived seeds stay positive and below 2**31 (any RNG takes them)


def resolve_run_seed(text, *, today=None):
    """The run seed for ``text``: a decimal or ``0x`` integer, ``random`` or ``date``.

    ``today`` (a :class:`datetime.date`) replaces the current UTC date for ``date``.
    Raises ValueError with the accepted forms for anything else."""
    word = str(text).strip().lower()
    if word == "random":
        return secrets.randbelow(_MAX)
    if word == "date":
        day = today or datetime.datetime.now(datetime.UTC).date()
        return day.year * 10_000 + day.month * 100 + day.day
    try:
        value = int(word, 0)
    except ValueError:
        raise ValueError(f"seed {text!r}: give a non-negative integer, 'random' or 'date'") \
            from None
    if value < 0:
        raise ValueError(f"seed {text!r}: give a non-negative integer, 'random' or 'date'")
    return value


def derive_seed(run_seed, name, index=0):
    """The seed of case ``index`` of test ``name`` (a pytest node id without parameters) in a
    run with ``run_seed``: a hash, so neighbouring run seeds or tests give unrelated seeds.
    In ``[0, 2**31)``."""
    digest = hashlib.sha256(f"{run_seed}:{name}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % _MAX
