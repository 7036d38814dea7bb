"""The neural processing unit: command processor, datapath, systolic array and their units.

Contracts sit at the top and are imported downward, never from a sibling block:

- :mod:`.isa` (precision, dataflow) and :mod:`.commands` (the command contract: opcodes,
  COMPUTE / FENCE / LIST, ordering and validation; it re-exports the rest of the contract, one
  concept per module: :mod:`.load_cmd` LOAD, :mod:`.store_cmd` STORE and its table,
  :mod:`.eltwise_cmd` ELTWISE, :mod:`.error_codes` error codes, :mod:`.register_map` registers,
  sequence bits and performance counters);
- :mod:`.descriptor` (descriptor fields and the Amaranth descriptor layout);
- :mod:`.link` (the control-to-datapath signature), :mod:`.dma_command` (the DMA command
  layout), :mod:`.mem_ports` (the row memories' ports).

Blocks (queue, validate, dispatch, regs, perf, control; load / exec / store units, DMA,
memories, array, post-processing, datapath) import these contracts and the blocks they contain.
"""
