"""Suite-wide settings.

Simulations without an explicit variant use ``cpu`` (the SoC without the NPU): its Verilator
model builds in about a minute and runs at ~1.5 M cycles/s, against many minutes and ~15 k
cycles/s for the full ``sim`` variant with its 8x8 NPU. NPU system tests ask for
``preset("npu-small")`` explicitly. Subprocesses (``dure run`` in CLI tests) inherit this.

Random tests take their seeds from one place, the plugin :mod:`dure.sim.verif.pytest_seeds`
(``--seed N|random|date``, ``DURE_SEED``; fixed regression seeds plus a rotating ``rot`` case
per seeded test; the seed printed on failure).

Shared fixture: ``model_case``, a TFLite test model and its input by name from the test
module's ``MODELS`` (the dot target's tests in tests/compiler and tests/firmware).
"""

import os

import numpy as np
import pytest

from dure.config import VARIANT_ENV

pytest_plugins = ["dure.sim.verif.pytest_seeds", "dure.sim.verif.pytest_coverage"]

os.environ.setdefault(VARIANT_ENV, "cpu")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``build_first`` (the first test of a long Verilator model build) run first:
    under ``pytest -n 2`` the build then overlaps the rest of the suite instead of ending it.
    A stable sort, identical on every xdist worker."""
    items.sort(key=lambda item: item.get_closest_marker("build_first") is None)


@pytest.fixture
def model_case(request):
    """Build a TFLite test model of the requesting module's ``MODELS`` table (name ->
    (builder, keyword arguments)): ``model_case(name, seed=5)`` returns ``(model bytes,
    parsed graph, int8 input)``, the model built from ``np.random.default_rng(seed)`` and the
    input drawn from the same generator after it (the dot target's tests)."""
    from dure.compiler.tflite_frontend import parse_tflite

    models = request.module.MODELS

    def build(name, seed=5):
        builder, kw = models[name]
        rng = np.random.default_rng(seed)
        data = builder(rng, **kw)
        graph = parse_tflite(data)
        x = rng.integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
        return data, graph, x

    return build
