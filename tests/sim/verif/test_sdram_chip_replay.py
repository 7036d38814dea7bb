"""The harness's C++ SDRAM chip model (``sim/sdram_chip.h``) against the Python model.

The simulated ULX3S runs its SDRAM controller against the C++ model in the Verilator harness;
the controller's own tests run against :class:`dure.sim.verif.sdram_chip.SdramChip`. Both are
written from the same datasheet with the same cycle semantics, so here random pin traces
(an initialisation, then mostly plausible commands with random gaps, data, byte masks, and now
and then a broken rule) go through both, via ``sim/verif/sdram_chip_replay.cpp``: what the chip
drives in every cycle, and the first violation (its cycle and its message), must be the same.
The traces run at 10 ns and 50 ns (the ULX3S's 20 MHz), with and without the boards' inverted
chip clock, at CAS latency 2 and 3 and every burst length.
"""

import dataclasses
import pathlib
import subprocess

import numpy as np
import pytest
from dure.sim.verif.sdram_chip import IS42S16160G, SdramChip, SdramViolation
from dure.sim.verilator_build import tool

_SIM = pathlib.Path(__file__).resolve().parents[3] / "sim"
_REPLAY = _SIM / "verif" / "sdram_chip_replay.cpp"
DATASHEET = dataclasses.replace(IS42S16160G, t_init=200e-9, refresh_rows=4, t_ref=3e-6)
CODES = {"NOP": (0, 0, 0), "READ": (0, 1, 0), "WRITE": (0, 1, 1), "ACTIVE": (1, 0, 0),
         "PRECHARGE": (1, 0, 1), "REFRESH": (1, 1, 0), "MODE": (1, 1, 1)}


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    exe = tmp_path_factory.mktemp("sdram") / "sdram_chip_replay"
    subprocess.run([tool("CXX", "g++"), "-std=c++17", "-O1", "-Wall", "-Werror", "-o", str(exe),
                    str(_REPLAY)], check=True, capture_output=True, text=True)
    return exe


def _trace(rng, t_ck, cycles):
    """A random pin trace: ``[(cke, cs, ras, cas, we, ba, a, dqm, dq_o, dq_oe), ...]``.

    Commands mostly keep the datasheet's timing (a gap covering tRC after each, refreshes in
    time), now and then not (a shorter gap, a random command, undriven write data)."""
    rows = []
    spacing = -(-60e-9 // t_ck)                             # covers tRC, tRFC, tRP, tRCD, tMRD
    refresh_every = DATASHEET.t_ref / DATASHEET.refresh_rows / 2 / t_ck

    def cmd(name="NOP", ba=0, a=0, dqm=0, dq=None, cke=1):
        rows.append((cke, int(name != "NOP"), *CODES[name], ba, a, dqm,
                     0 if dq is None else dq, int(dq is not None)))

    def gap(least=0, short=0.02):
        least = max(least, spacing)
        n = int(least + rng.integers(0, 3)) if rng.random() >= short else \
            int(rng.integers(0, least))
        for _ in range(n):
            cmd(dqm=int(rng.integers(0, 4)) if rng.random() < 0.05 else 0)

    for _ in range(int(DATASHEET.t_init / t_ck) + int(rng.integers(0, 3))):
        cmd()
    cmd("PRECHARGE", a=1 << 10)
    gap()
    for _ in range(2):
        cmd("REFRESH")
        gap()
    burst = int(rng.integers(0, 4))
    cl = int(rng.choice([2, 3]))
    cmd("MODE", a=burst | (int(rng.random() < 0.3) << 3) | (cl << 4)
        | (int(rng.random() < 0.2) << 9))
    gap()
    open_rows, refreshed = {}, len(rows)
    while len(rows) < cycles:
        r = rng.random()
        bank = int(rng.integers(0, 4))
        if len(rows) - refreshed > refresh_every:
            if open_rows:
                cmd("PRECHARGE", a=1 << 10)
                open_rows.clear()
                gap()
            cmd("REFRESH")
            refreshed = len(rows)
        elif r < 0.01:                                      # anything at all
            name = str(rng.choice(list(CODES)))
            cmd(name, ba=bank, a=int(rng.integers(0, 1 << 13)), cke=int(rng.random() < 0.9))
        elif r < 0.25 and bank not in open_rows:
            open_rows[bank] = int(rng.choice([0, 1, 7, 8191]))
            cmd("ACTIVE", ba=bank, a=open_rows[bank])
            gap(short=0.2)
            continue
        elif r < 0.8 and open_rows:
            bank = int(rng.choice(list(open_rows)))
            column = int(rng.integers(0, 512)) if rng.random() < 0.5 else int(rng.integers(0, 4))
            if rng.random() < 0.5:
                cmd("READ", ba=bank, a=column, dqm=3 if rng.random() < 0.05 else 0)
                gap(cl + (1 << burst))
                continue
            for beat in range(1 << burst):
                cmd("WRITE" if beat == 0 else "NOP", ba=bank, a=column if beat == 0 else 0,
                    dqm=int(rng.integers(0, 4)) if rng.random() < 0.3 else 0,
                    dq=int(rng.integers(0, 1 << 16)) if rng.random() < 0.995 else None)
        elif open_rows:
            if rng.random() < 0.3:
                cmd("PRECHARGE", a=1 << 10)
                open_rows.clear()
            else:
                bank = int(rng.choice(list(open_rows)))
                cmd("PRECHARGE", ba=bank)
                del open_rows[bank]
        gap()
    return rows[:cycles]


def _python(trace, t_ck, inverted):
    chip = SdramChip(None, clk_period=t_ck, datasheet=DATASHEET, clock_inverted=inverted)
    out = []
    for row in trace:
        try:
            drive = chip.step(*row)
        except SdramViolation as violation:
            out.append(f"VIOLATION {violation}")
            break
        out.append("-1" if drive is None else str(drive))
    return out, chip


def _cpp(replay, trace, t_ck, inverted):
    header = f"{t_ck!r} {DATASHEET.t_init!r} {DATASHEET.t_ref!r} {DATASHEET.refresh_rows} " \
             f"{int(inverted)}\n"
    text = header + "".join(" ".join(str(int(v)) for v in row) + "\n" for row in trace)
    done = subprocess.run([str(replay)], input=text, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_the_cpp_chip_model_equals_the_python_model(replay):
    rng = np.random.default_rng(16)
    rules, reads, clean = set(), 0, 0
    for case in range(48):
        t_ck = (10e-9, 50e-9)[case % 2]
        inverted = bool(case // 2 % 2)
        trace = _trace(rng, t_ck, 1500)
        want, chip = _python(trace, t_ck, inverted)
        got = _cpp(replay, trace, t_ck, inverted)
        if got != want:
            first = next((i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w),
                         min(len(got), len(want)))
            pytest.fail(f"case {case} ({t_ck * 1e9:g} ns, inverted {inverted}): cycle {first}: "
                        f"C++ {got[first:first + 1]}, Python {want[first:first + 1]}")
        reads += sum(line != "-1" for line in want if not line.startswith("VIOLATION"))
        if want[-1].startswith("VIOLATION"):
            text = want[-1]
            rules.add(text.split(": ")[-1].split(" is ")[0] if " is " in text
                      else text.split(": ", 1)[1][:25])
        else:
            clean += 1
    # The traces reach deep enough to mean something: many data beats read back, some traces
    # without any violation, and a spread of broken rules.
    assert reads >= 400 and clean >= 2 and len(rules) >= 8, (reads, clean, sorted(rules))


def test_the_replay_refuses_a_bad_trace(replay):
    done = subprocess.run([str(replay)], input="ten ns\n", capture_output=True, text=True)
    assert done.returncode == 2 and "bad header line" in done.stderr
