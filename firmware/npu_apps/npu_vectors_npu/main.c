/* npu_vectors_npu: npu_vectors without the CPU reference path (NPU output against the golden
 * bytes only), short enough for every test run on the simulated SoC. */
#define NPU_VECTORS_NO_CPU
#include "../npu_vectors/main.c"
