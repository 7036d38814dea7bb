"""IEEE 754 floating-point arithmetic units of the NPU.

Every unit is a fixed-latency pipeline with the same control ports:

``en`` (in, default 1)
    Clock enable. While low, every pipeline register (data and valid) holds.
``i_valid`` (in) / ``o_valid`` (out)
    A valid bit that travels with the data. An output is consumed on a cycle where ``en`` is high.

Rounding is round-to-nearest-even, subnormals are kept on input and output, signed zeros follow
IEEE 754, and every NaN result is the canonical quiet NaN (``0x7FC00000`` in binary32, ``0x7E00``
in binary16).

=================  =========================================  =======
unit               function                                   latency
=================  =========================================  =======
``Fp16Mul``        fp16 x fp16 -> exact fp32 product          4
``Fp32Add``        fp32 + fp32 -> fp32                        6
``Fp16Mac``        (fp32 + fp16 x fp16) + fp16 x fp16         16
``Fp32Mul``        fp32 x fp32 -> fp32                        7
``Int32ToFp32``    int32 -> fp32                              4
``Fp32ToFp16``     fp32 -> fp16                               3
``Fp32ToInt8Rne``  clamp(rne(fp32) + zp, lo, hi) -> int8      5
=================  =========================================  =======
"""

from .fp16_mac import Fp16Mac
from .fp16_mul import Fp16Mul
from .fp32_add import Fp32Add
from .fp32_mul import Fp32Mul
from .fp32_to_fp16 import Fp32ToFp16
from .fp32_to_int8 import Fp32ToInt8Rne
from .int32_to_fp32 import Int32ToFp32

__all__ = ["Fp16Mac", "Fp16Mul", "Fp32Add", "Fp32Mul", "Fp32ToFp16", "Fp32ToInt8Rne",
           "Int32ToFp32"]

FP32_QNAN = 0x7FC00000
FP16_QNAN = 0x7E00
