"""The firmware's MAX_POOL_2D (firmware/npu/npu_maxpool.c) writes pool_plan's list and
parameter bytes word for word, INT8 and FP16, refusals included (harness:
dure.sim.verif.npu_op_host; average pooling: test_npu_conv.py)."""

import numpy as np
import pytest
from dure.sim import pool_plan
from dure.sim.verif.npu_op_host import (
    CONFIGS,
    OUT_ADDR,
    PARAM_ADDR,
    X_ADDR,
    Buffers,
    pool_case,
    ptr,
    set_info,
)


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_max_pooling_writes_the_python_list(op_lib, config_name):
    """MAX_POOL_2D INT8 and FP16 (npu_maxpool.c, pool_plan's _max_pool: ELTWISE MAX per tap
    through the walk): the same list and parameter bytes on random windows, strides, paddings,
    batches, channel counts and clamps, refusals included."""
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(21)
    bufs = Buffers()
    planned = 0
    for _ in range(30):
        planned += pool_case(op_lib, bufs, config, rng, "max")
    assert planned >= 20
    # the benchmark's 3x3 stride-2 SAME pool of a 16x16x32 map
    if config_name == "8x8":
        for fp16 in (0, 1):
            fn = pool_plan.max_pool_fp16_program if fp16 else pool_plan.max_pool_int8_program
            program = fn(config, (1, 16, 16, 32), (3, 3), stride=2, padding="SAME",
                         x_addr=X_ADDR, out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
            s = [fp16, 1, 16, 16, 32, 32, 3, 3, 2, 2, 0]
            count = op_lib.maxpool(ptr(np.array(s, np.int32)),
                                ptr(np.array([0, -128, 127, 0, 0, 0], np.int32)),
                                *bufs.args())
            assert bufs.check(count, program, f"mp3x3s2 fp16={fp16}")
