"""Hyperparameter search on Optuna (``digitnet tune``; the ``[tune]`` extra).

space.py    the YAML search space, checked against Config's keys
storage.py  where a study lives (SQLite file or PostgreSQL), passwords masked
study.py    trials: a normal training run each, reported per epoch for pruning
worker.py   the process entry of one ``--jobs`` worker
results.py  trials table, best config as YAML, importances
plots.py    optimisation history, importances, accuracy against each parameter
"""
