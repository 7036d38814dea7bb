"""The vector harness's cached models: :func:`~dure.sim.verif.vector_harness.model` generates a
component's Verilog only when no model of the same class, arguments and sources was built, and
the model it finds runs like the one it built. Private build folder (DURE_BUILD)."""

import pathlib

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from dure.sim.rtlgen import class_sources
from dure.sim.verif import vector_harness


class AddConst(wiring.Component):
    """``o_y = i_a + const`` one enabled cycle later."""

    def __init__(self, const):
        self._const = const
        super().__init__({"en": In(1), "i_valid": In(1), "o_valid": Out(1),
                          "i_a": In(16), "o_y": Out(16)})

    def elaborate(self, platform):
        m = Module()
        with m.If(self.en):
            m.d.sync += [self.o_valid.eq(self.i_valid), self.o_y.eq(self.i_a + self._const)]
        return m


def test_model_generates_the_verilog_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DURE_BUILD", str(tmp_path))
    converted = []
    convert = vector_harness.verilog.convert

    def counting(component, **kwargs):
        converted.append(kwargs["name"])
        return convert(component, **kwargs)

    monkeypatch.setattr(vector_harness.verilog, "convert", counting)
    a = np.arange(100)
    first = vector_harness.model(AddConst, 3, log=None)
    assert converted == ["AddConst"]
    again = vector_harness.model(AddConst, 3, log=None)        # indexed: no Verilog made
    assert converted == ["AddConst"] and again.executable == first.executable
    out = again.run(i_a=a, stall_per_mille=200, gap_per_mille=100)
    assert out["o_y"].tolist() == (a + 3).tolist() and set(out["latency"].tolist()) == {1}
    other = vector_harness.model(AddConst, 5, name="add5", log=None)   # other arguments
    assert converted == ["AddConst", "add5"] and other.executable != first.executable
    assert other.run(i_a=a)["o_y"].tolist() == (a + 5).tolist()


def test_model_refuses_arguments_without_a_stable_repr():
    with pytest.raises(TypeError, match="stable repr"):
        vector_harness.model(AddConst, object(), log=None)


def test_class_sources_cover_the_class_and_rtl():
    files = class_sources(AddConst)
    assert pathlib.Path(__file__).resolve() in files
    assert any(path.parts[-2:] == ("rtl", "__init__.py") for path in files)
    assert any(path.name == "config.py" and path.parent.name == "dure" for path in files)
    assert files == sorted(set(files))
