/* walker.c: the layer-table walker of npu_model_run (firmware/npu_jobs/npu_model_run/), compiled
 * into this program unchanged: the firmware Makefile builds a program from the files of its
 * own folder, so the walker's sources are included here rather than copied. The records in
 * onnxruntime's arithmetic (layer_onnx.c, conv_float_onnx.c) are left out: the dot-unit target
 * compiles TFLite models only (compiler/dot_target.py), and without them the program, its data
 * and the 16 KiB stack fit the board's 64 KiB of RAM. Such a record stops the walk (LT_E_OP). */
#include "../../npu_jobs/npu_model_run/layer_table.c"
#include "../../npu_jobs/npu_model_run/layer_stage.c"
#include "../../npu_jobs/npu_model_run/layer_layout.c"

int lt_onnx_op(const struct lt_env *env, const uint32_t *r)
{
    (void)env;
    (void)r;
    return LT_E_OP;
}
