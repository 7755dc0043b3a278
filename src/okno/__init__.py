"""okno — one window onto every customer conversation."""

__version__ = "0.1.0"
