"""The on-chip bus: signature, decoder, arbiter and default responder."""
