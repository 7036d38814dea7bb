"""Main memory of the golden command model (:class:`~dure.sim.npu_model.NpuModel`) as byte
regions; a LOAD or STORE touching a byte outside them is a bus error."""

import numpy as np

__all__ = ["RegionMemory"]


class RegionMemory:
    """Main memory as byte regions: ``RegionMemory({base: contents})`` (copied to uint8 arrays).

    The interface the model needs from a memory (another implementation may wrap an emulator's
    memory): ``contains(addr, length)``, ``read(addr, length) -> bytes``, ``write(addr, data)``.
    """

    def __init__(self, regions):
        self.regions = sorted((int(base), np.frombuffer(bytes(data), np.uint8).copy())
                              for base, data in regions.items())
        for (a, da), (b, _) in zip(self.regions, self.regions[1:], strict=False):
            if a + len(da) > b:
                raise ValueError(f"memory regions at 0x{a:x} and 0x{b:x} overlap")

    def _locate(self, addr, length):
        for base, data in self.regions:
            if base <= addr and addr + length <= base + len(data):
                return data, addr - base
        return None

    def contains(self, addr, length):
        """True when every byte of ``[addr, addr + length)`` is backed by one region."""
        return self._locate(addr, length) is not None

    def _view(self, addr, length):
        found = self._locate(addr, length)
        if found is None:
            raise ValueError(f"0x{addr:08x}..0x{addr + length - 1:08x} is not inside the "
                             "model's memory")
        data, off = found
        return data[off:off + length]

    def read(self, addr, length):
        return self._view(addr, length).tobytes()

    def write(self, addr, data):
        self._view(addr, len(data))[:] = np.frombuffer(bytes(data), np.uint8)
