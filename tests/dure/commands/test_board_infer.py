"""``dure board infer``: a model on a board through the boot link.

Fast tests (make test): the errors a user meets before or instead of a run (a model that does
not fit the board's memory, a link nobody answers, a board whose boot loader reports other
memories than the variant the model was compiled for), against a pseudo-terminal. The board
runs (marked slow: loading the firmware through the simulated UART takes minutes on a busy
machine; make fuzz runs them) compile small TFLite models for the simulated ULX3S (4x2 INT8 +
FP16 NPU, main memory through the SDRAM controller and the harness's chip model),
iCEBreaker (its board preset: the tiny core and the INT8 dot-product unit, no NPU;
compiler/dot_target.py) and iCESugar-Pro (4x2 INT8-only NPU, the small core, SDRAM), load,
run, read back and compare with LiteRT's reference kernels bit for bit, with framing errors
injected on the line (one shared body, ``_infer_with_line_faults``)."""

import itertools
import os
import threading
import tty

import numpy as np
import pytest
from dure.compiler.load import load_model
from dure.compiler.lower import compile_graph
from dure.fpga.link import BoardLink, LinkError
from dure.fpga.protocol import INFO_FORMAT, FrameDecoder, Type, encode
from dure.fpga.simboard import Faults, SimBoard, sim_config
from dure.sim.verif import compiler_models as cm
from dure.sim.verif.litert_ref import run_reference

from dure.cli import main
from dure.commands.board_infer import VARIANTS, run_on_board
from dure.config import preset


def _model(tmp_path, builder, seed=1, **kw):
    rng = np.random.default_rng(seed)
    path = tmp_path / "model.tflite"
    path.write_bytes(builder(rng, **kw))
    graph, _ = load_model(str(path))
    shape = graph.tensors[graph.inputs[0]].shape
    x = rng.integers(-128, 128, shape).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    return path, tmp_path / "x.npy", x


@pytest.fixture
def pty_port():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        os.close(fd)


def test_model_too_large_for_the_board_names_the_sizes(tmp_path, capsys):
    # 256x256 int8 weights alone are the iCEBreaker's whole 64 KiB main memory.
    model, x, _ = _model(tmp_path, cm.tflite_int8_mlp, batch=1, sizes=(256, 256, 10))
    status = main(["board", "infer", str(model), "--input", str(x), "--port", "/dev/null",
                   "--board", "icebreaker"])
    err = capsys.readouterr().err
    assert status == 2
    assert "cannot run the model on the icebreaker" in err
    assert "main memory of variant 'icebreaker' has 65536" in err


def test_link_nobody_answers_is_a_link_failure(tmp_path, pty_port, capsys):
    model, x, _ = _model(tmp_path, cm.tflite_int8_mlp)
    status = main(["board", "infer", str(model), "--input", str(x), "--port", pty_port[1],
                   "--timeout", "0.2", "--retries", "1"])
    err = capsys.readouterr().err
    assert status == 3
    assert "link failure: no valid reply to PING after 2 attempts" in err


def _answer_ping(master, info):
    decoder = FrameDecoder()
    while True:
        try:
            data = os.read(master, 256)
        except OSError:
            return
        for item in decoder.feed(data):
            if not isinstance(item, bytes) and item.type == Type.PING:
                os.write(master, encode(Type.ACK, item.seq, info))
                return


def test_board_with_other_memories_is_refused(tmp_path, pty_port, capsys):
    # A boot loader that answers PING like the sim variant's (256 KiB RAM, 4 MiB main memory),
    # not like the ULX3S the model was compiled for: refused before anything is loaded.
    import struct
    info = struct.pack(INFO_FORMAT, 1, 0, 512, 50_000_000, 0x8000_0000, 256 * 1024,
                       0x4000_0000, 4 * 1024 * 1024, 0x8000_0000 + 254 * 1024)
    thread = threading.Thread(target=_answer_ping, args=(pty_port[0], info), daemon=True)
    thread.start()
    model, x, _ = _model(tmp_path, cm.tflite_int8_mlp)
    status = main(["board", "infer", str(model), "--input", str(x), "--port", pty_port[1],
                   "--timeout", "5", "--retries", "0"])
    err = capsys.readouterr().err
    assert status == 2
    assert "main memory 4194304 B at 0x40000000; the ulx3s variant 'ulx3s' has RAM 65536 B" in err
    assert "make fpga BOARD=ulx3s" in err


def test_board_variants_are_the_presets_memories():
    # The simulated boards run exactly the memories and NPU a model is compiled for on the
    # real board (only the nominal clock differs; the ULX3S's main memory is its SDRAM
    # controller with a chip model, or with --sim-main block the block model).
    for (board, variant), memory in itertools.product(VARIANTS.items(), ("sdram", "block")):
        sim, real = sim_config(board=board, main=memory), preset(variant)
        assert [(r.name, r.base, r.size) for r in sim.regions] == \
            [(r.name, r.base, r.size) for r in real.regions]
        assert (sim.npu_rows, sim.npu_cols, sim.npu_fp16, sim.core, sim.npu_eltwise,
                sim.dot_unit) == \
            (real.npu_rows, real.npu_cols, real.npu_fp16, real.core, real.npu_eltwise,
             real.dot_unit)
    # each board runs the preset `make fpga BOARD=...` builds (fpga/boards.py)
    from dure.fpga.boards import BOARDS
    assert {b: BOARDS[b].preset for b in VARIANTS} == VARIANTS
    with pytest.raises(ValueError, match="no simulated board 'orangecrab'"):
        sim_config(board="orangecrab")


# --- the simulated boards (slow: minutes of UART traffic through a busy simulator) ----------


@pytest.mark.slow
def test_infer_on_the_simulated_icebreaker(tmp_path, capsys):
    # The CLI end to end on the board preset (`make fpga BOARD=icebreaker`: the tiny core and
    # the dot-product unit): a CNN (a convolution through im2col, a depthwise one and a 1x1 on
    # the unit, ADD, pools on the core, FC on the unit, SOFTMAX) compiled by the dot target,
    # loaded, run by dot_model_run, read back, checked against LiteRT bit for bit.
    model, x, _ = _model(tmp_path, cm.tflite_int8_cnn, seed=4, h=8, w=8, cin=4, c=8)
    out = tmp_path / "y.npy"
    status = main(["board", "infer", str(model), "--input", str(x), "--sim", "icebreaker",
                   "--out", str(out), "--check"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "starting the simulated icebreaker (variant link-" in captured.err
    assert "check: LiteRT reference kernels: bit-exact" in captured.out
    assert "check: the compiler's program model (no NPU): bit-exact" in captured.out
    assert "dot unit" in captured.out                   # the per-layer table says where
    assert "inferences/s at the board's 12 MHz" in captured.out
    want = run_reference(model.read_bytes(), np.load(x))[0]
    got = np.load(out)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def _infer_with_line_faults(tmp_path, board_name, builder, model_kw, *, seed, fault_seed,
                            min_faults, check_program=None):
    """The line-fault run shared by every simulated board: compile ``builder``'s model (with
    ``model_kw``) for the board's preset, load and run it with drops, bit flips and inserted
    bytes on the line (each fault recovered by a NAK or a timeout and a resend, each range
    CRC-checked) and read it back: the answer is LiteRT's bit for bit, at least
    ``min_faults`` faults were injected and at least one frame was resent. Then a line that
    drops every reply: a LinkError, never an answer. ``check_program(board, program)`` adds
    the board's own assertions on what was compiled."""
    model, _, x = _model(tmp_path, builder, seed=seed, **model_kw)
    graph, data = load_model(str(model))
    want = run_reference(data, x)[0]
    # About one fault per 1,250 bytes: a third of the 518-byte WRITE frames are hit (each one
    # is resent after a NAK or a timeout; 9 attempts make a give-up practically impossible).
    faults = Faults(drop=0.0003, flip=0.0003, insert=0.0002, h2d_bytes=20_000, d2h_bytes=4000,
                    seed=fault_seed)
    with SimBoard(board=board_name, faults=faults) as board:
        program = compile_graph(graph, board.config)
        if check_program is not None:
            check_program(board, program)
        link = BoardLink.open(board.port, timeout=15.0)
        try:
            outputs, run, jobs = run_on_board(program, [x], link, run_timeout=600)
            assert outputs[0].dtype == want.dtype and np.array_equal(outputs[0], want)
            assert sum(faults.injected.values()) >= min_faults
            assert link.stats.resent >= 1
            assert run.cycles > 0 and len(jobs) == 1
            board.faults = Faults(drop=1.0, d2h_from=0)
            link.timeout, link.retries = 2.0, 1
            with pytest.raises(LinkError, match="no valid reply"):
                run_on_board(program, [x], link, run_timeout=60)
        finally:
            link.close()
    return run


@pytest.mark.slow
def test_infer_on_the_simulated_icebreaker_with_line_faults(tmp_path):
    # The MLP on the iCEBreaker's preset (the tiny core, both layers on the dot-product unit).
    def check(board, program):
        assert board.config.dot_unit and not board.config.npu_rows
        assert {la.kind for la in program.layers} == {"dot_dense"}

    _infer_with_line_faults(tmp_path, "icebreaker", cm.tflite_int8_mlp,
                            dict(batch=2, sizes=(16, 8, 10)), seed=2, fault_seed=5,
                            min_faults=3, check_program=check)


@pytest.mark.slow
def test_infer_on_the_simulated_ulx3s_with_line_faults(tmp_path):
    # The CNN (convolution, depthwise, ADD, pools, FC, SOFTMAX) on the ULX3S variant, main
    # memory through the SDRAM controller and the harness's chip model.
    _infer_with_line_faults(tmp_path, "ulx3s", cm.tflite_int8_cnn,
                            dict(h=6, w=6, cin=2, c=4, units=5), seed=2, fault_seed=3,
                            min_faults=5)


@pytest.mark.slow
def test_infer_on_the_simulated_icesugar_pro_with_line_faults(tmp_path):
    # The cheapest model that proves the board: the MLP of the iCEBreaker test on the
    # iCESugar-Pro's preset (the tiny core with its one-port RAM, the 4x1 INT8-only NPU, main
    # memory through the SDRAM controller timed for the board's clock and the harness's chip
    # model): both dense layers on the NPU.
    def check(board, program):
        assert (board.config.npu_rows, board.config.npu_cols, board.config.npu_fp16) == \
            (4, 1, False)
        assert board.config.main_kind == "sdram" and board.config.core == "tiny"
        assert board.sdram_clk_freq == preset("icesugar-pro").clk_freq
        assert [la.kind for la in program.layers] == ["gemm", "gemm"]

    _infer_with_line_faults(tmp_path, "icesugar-pro", cm.tflite_int8_mlp,
                            dict(batch=2, sizes=(16, 8, 10)), seed=2, fault_seed=5,
                            min_faults=3, check_program=check)
