"""Fixtures shared by the compiler's tests."""

import dataclasses

import numpy as np
import pytest
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm

from dure.config import preset


@pytest.fixture(scope="module")
def cnn_program():
    """A compiled INT8 TFLite CNN with NPU and core layers (ADD, MAX_POOL_2D, SOFTMAX on the
    core) and a RESHAPE alias."""
    graph = parse_tflite(cm.tflite_int8_cnn(np.random.default_rng(3), h=6, w=6, c=6))
    # without the element-wise unit, so ADD and MAX_POOL stay core layers with their records
    return compile_graph(graph, dataclasses.replace(preset("npu-small"), npu_eltwise=False,
                                                     npu_eltwise_handover=False))
