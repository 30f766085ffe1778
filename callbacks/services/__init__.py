"""The outbound engine's rules, one module per subject."""
