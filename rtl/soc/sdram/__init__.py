"""SDR SDRAM controller (``dure.rtl.soc.sdram``): main memory in the ULX3S's SDRAM.

:mod:`.timing` holds the part's datasheet numbers, :mod:`.control` the command FSM,
:mod:`.datapath` the data beats and responses, :mod:`.refresh` the refresh timer,
:mod:`.pins` the pin signature and board I/O, :mod:`.controller` wires them to a bus port.
"""

from .controller import SdramController
from .pins import SdramIO, SdramPinSignature
from .timing import IS42S16160B_7, IS42S16160G_7, PARTS, SdramCycles, SdramTiming, part

__all__ = ["SdramController", "SdramIO", "SdramPinSignature", "SdramTiming", "SdramCycles",
           "IS42S16160G_7", "IS42S16160B_7", "PARTS", "part"]
