/* dot_model_run.h: the records dot_model_run adds to npu_model_run's layer-table walker. */
#ifndef DURE_DOT_MODEL_RUN_H
#define DURE_DOT_MODEL_RUN_H

#include <stdint.h>

#include "../../npu_jobs/npu_model_run/layer_table.h"

/* LT_OP_DEPTHWISE_DOT_INT8 (depthwise.c); returns an lt_status. */
int dot_depthwise(const struct lt_env *env, const uint32_t *r);

#endif
