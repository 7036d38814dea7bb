/* walker.c: the layer-table walker of npu_model_run (firmware/npu_jobs/npu_model_run/), compiled
 * into this program unchanged: the firmware Makefile builds a program from the files of its
 * own folder, so the walker's sources are included here rather than copied. */
#include "../../npu_jobs/npu_model_run/layer_table.c"
#include "../../npu_jobs/npu_model_run/layer_stage.c"
#include "../../npu_jobs/npu_model_run/layer_layout.c"
#include "../../npu_jobs/npu_model_run/layer_onnx.c"
#include "../../npu_jobs/npu_model_run/conv_float_onnx.c"
