"""Probabilistic record linkage (Fellegi–Sunter) for keys that don't prove identity."""
