"""The model compiler (``dure.compiler``): model files in, NPU programs out.

Front ends (:mod:`.tflite_frontend`, :mod:`.onnx_frontend`) read a model file into the one
intermediate representation (:mod:`.ir`); :mod:`.reference` executes that IR with the golden
operators of :mod:`dure.sim` (the compiler's own golden); :mod:`.lower` turns it into a
:class:`~.program.Program` (NPU command lists, weights, a layer table) whose buffers
:mod:`.memory_plan` places; :mod:`.execute` runs a program on the golden NPU command model
and :mod:`.soc` its NPU layers on the simulated SoC;
:mod:`.report` prints the per-layer table. Every rejection is one
:class:`~.errors.UnsupportedModel`.

Layer: above the models (``dure.sim``), below the command line (docs/architecture.md).
"""
