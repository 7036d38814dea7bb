"""Shared fixture of the core tests: ``variant`` runs a test once per core variant (the
five-stage core as ``full``, ``full-late`` and ``small``, the multi-cycle ``tiny`` core) by
switching what :func:`dure.sim.verif.core_bench.run` builds by default."""

import pytest
from dure.rtl.core.options import core_options
from dure.sim.verif import core_bench

#: What :func:`core_bench.run` builds per variant (``None``: its default, the full core).
VARIANTS = {"full": None, "full-late": core_options("full-late"),
            "small": core_options("small"), "tiny": "tiny"}


@pytest.fixture(params=list(VARIANTS))
def variant(request, monkeypatch):
    """Run the test once per core variant: same programs, same retirement records and results."""
    if VARIANTS[request.param] is not None:
        monkeypatch.setattr(core_bench, "DEFAULT_OPTIONS", VARIANTS[request.param])
    return request.param
