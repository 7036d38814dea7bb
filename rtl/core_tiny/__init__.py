"""The tiny multi-cycle RV32IM + Zicsr control core (for the iCE40UP5K)."""
