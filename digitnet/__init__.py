"""digitnet: a single-hidden-layer digit classifier with hand-written backpropagation."""

__version__ = "0.1.0"
