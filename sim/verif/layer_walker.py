"""The layer-table walker of the ``npu_model_run`` firmware (firmware/npu_jobs/npu_model_run/
layer_table.c and its parts layer_stage.c, layer_layout.c, layer_onnx.c) compiled for the
host, with the golden NPU command model behind its callbacks: what
tests/firmware/test_layer_table.py and test_layer_table_tiles.py drive.

:func:`walker_library` builds the walker with the C kernels it calls (firmware/npu/cpu_ops_*.c,
softfloat.c) and a shim exporting ``walk``; :func:`walk` runs it over a :class:`Mem`, every NPU
list on a fresh :class:`dure.sim.npu_model.NpuModel` over the whole memory, and an
``NPU_TILES`` record's lists one tile after the other on the same memory (the tiles compute
disjoint outputs, so the order does not matter). The tests' fixtures
(tests/firmware/conftest.py) place compiled programs in a :class:`Mem` as the SoC run does.
"""

import ctypes
import pathlib

import numpy as np
from dure.rtl.npu.commands import ErrorCode

from ..npu_model import NpuModel
from .host_c import host_library

__all__ = ["SOURCES", "walker_library", "Mem", "run_list", "walk"]

ROOT = pathlib.Path(__file__).resolve().parents[2]
WALKER = ROOT / "firmware" / "npu_jobs" / "npu_model_run"
SOURCES = [WALKER / n for n in ("layer_table.c", "layer_stage.c", "layer_layout.c",
                                 "layer_onnx.c", "conv_float_onnx.c")] + [
    ROOT / "firmware" / "npu" / n for n in ("cpu_ops_int8.c", "cpu_ops_fp16.c",
                                            "cpu_ops_softmax.c", "softfloat.c",
                                            "cpu_rescale_double.c")]
# walk(): the walker with a one-list callback and a tiles callback (NULL: a one-tile SoC,
# which stops at an NPU_TILES record with KIND); the clock counts one per reading;
# set_list_region(): the environment's second list region (on-chip RAM; 0, 0: none).
SHIM = r"""
#include "layer_table.h"
typedef uint32_t (*list_cb)(uint32_t list, uint32_t count, uint32_t *index);
typedef uint32_t (*tiles_cb)(uint32_t tiles, const uint32_t *lists, const uint32_t *counts,
                             uint32_t *tile, uint32_t *index);
static list_cb g_list;
static tiles_cb g_tiles;
static uint64_t g_t;
static uint32_t g_list_base, g_list_size;
void set_list_region(uint32_t base, uint32_t size)
{
    g_list_base = base;
    g_list_size = size;
}
static uint32_t one(void *ctx, uint32_t l, uint32_t c, uint32_t *i)
{
    (void)ctx;
    return g_list(l, c, i);
}
static uint32_t many(void *ctx, uint32_t n, const uint32_t *l, const uint32_t *c, uint32_t *t,
                     uint32_t *i)
{
    (void)ctx;
    return g_tiles(n, l, c, t, i);
}
static uint64_t now(void *ctx) { (void)ctx; return g_t += 1; }
int walk(uint8_t *mem, uint32_t base, uint32_t size, uint32_t table, list_cb a, tiles_cb b,
         uint32_t *off)
{
    g_list = a;
    g_tiles = b;
    struct lt_env env = {mem, base, size, one, now, 0, b ? many : 0, 0, g_list_base,
                         g_list_size};
    uint32_t *r;
    int st = lt_walk(&env, table, &r);
    *off = r ? (uint32_t)((uint8_t *)r - mem) : 0xFFFFFFFFu;
    return st;
}
"""
U32P = ctypes.POINTER(ctypes.c_uint32)
LIST_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, U32P)
TILES_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint32, U32P, U32P, U32P, U32P)


def walker_library(directory):
    """The walker, its kernels and the ``walk`` shim built into ``directory`` and loaded (every
    exported function of the sources is reachable, e.g. ``lt_f32_div``)."""
    lib = host_library(directory, "walk", SOURCES, extra_sources={"shim.c": SHIM},
                       include_dirs=[WALKER])
    lib.walk.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
                         LIST_CB, TILES_CB, U32P]
    lib.set_list_region.argtypes = [ctypes.c_uint32, ctypes.c_uint32]
    return lib


class Mem:
    """Main memory from ``base``, ``size`` bytes, as a numpy buffer the C code writes in place
    (``read`` / ``write`` by address: what :func:`dure.compiler.execute.load_inputs` takes)."""

    def __init__(self, base, size):
        self.base, self.buf = base, np.zeros(size, np.uint8)

    def read(self, addr, n):
        return self.buf[addr - self.base:addr - self.base + n].tobytes()

    def write(self, addr, data):
        self.buf[addr - self.base:addr - self.base + len(data)] = np.frombuffer(data, np.uint8)


def run_list(mem, config, list_addr, count):
    """The ``count`` descriptors at ``list_addr`` on a fresh command model of ``config`` over
    ``mem`` (written back); ``(index, error code)`` of the first refused one, or None."""
    model = NpuModel(config)
    model.set_window(mem.base, len(mem.buf))
    model.write(mem.base, mem.buf.tobytes())
    words = np.frombuffer(mem.read(list_addr, 32 * count), "<u4").reshape(count, 8)
    codes = model.run([list(map(int, w)) for w in words])
    mem.buf[:] = np.frombuffer(model.read(mem.base, len(mem.buf)), np.uint8)
    bad = [i for i, c in enumerate(codes) if c != ErrorCode.NONE]
    return (bad[0], codes[bad[0]].value) if bad else None


def walk(lib, mem, table_addr, config, *, tiles=True):
    """Run the walker over ``mem`` from the table at ``table_addr``, NPU lists on the command
    model of ``config``; ``tiles=False`` walks as a one-tile SoC (no tiles callback).

    Returns ``(status, results offset in mem.buf or 0xFFFFFFFF, calls)``: ``calls`` one entry
    per NPU callback, ``(list address, count)`` for an ``NPU`` record, the list of them (one
    per tile) for an ``NPU_TILES`` record."""
    calls = []

    def one(list_addr, count, index):
        calls.append((list_addr, count))
        bad = run_list(mem, config, list_addr, count)
        if bad:
            index[0] = bad[0]
            return bad[1]
        return 0

    def many(n, lists, counts, tile, index):
        calls.append([(lists[t], counts[t]) for t in range(n)])
        for t in range(n):
            bad = run_list(mem, config, lists[t], counts[t])
            if bad:
                tile[0], index[0] = t, bad[0]
                return bad[1]
        return 0

    off = ctypes.c_uint32()
    st = lib.walk(mem.buf.ctypes.data, mem.base, len(mem.buf), table_addr, LIST_CB(one),
                  TILES_CB(many) if tiles else ctypes.cast(None, TILES_CB), ctypes.byref(off))
    return st, off.value, calls
