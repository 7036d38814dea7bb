"""The on-chip bus: signature, byte lanes, decoder, arbiter, default responder and the
register-bank builder."""
