// Declarations of the two LZ4 functions Verilator's FST writer calls, used only when the system
// has the LZ4 shared library but not its development header (Debian without liblz4-dev).
// dure.sim.verilator adds this folder to the include path in that case alone.
#ifndef DURE_LZ4_SHIM_H
#define DURE_LZ4_SHIM_H
#ifdef __cplusplus
extern "C" {
#endif
int LZ4_compressBound(int input_size);
int LZ4_compress_default(const char* source, char* dest, int source_size, int max_dest_size);
#ifdef __cplusplus
}
#endif
#endif
