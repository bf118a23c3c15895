"""Seeing inside: metrics, the diagram, gradient checks, traces of one example,
plots and reports."""
