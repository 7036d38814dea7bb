/* dense.c: the dense layer of dot_dense.h (dot_stream_dense_int8, cpu_dense_int8) from
 * firmware/dot_apps/dot_dense/, compiled into this program unchanged (included, not copied). */
#include "../dot_dense/dense.c"
