"""The RV32IM + Zicsr control core."""
