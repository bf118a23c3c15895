"""``digitnet serve``: a local page to draw a digit and watch the network, and backprop, work.

* ``session.py``: the numbers (no web code): read an image as ``predict`` does, the
  forward pass with what each hidden unit contributed, one backprop step on a taught
  label, and saving the taught network as a new checkpoint;
* ``app.py``: the Starlette application: JSON API, limits, errors as JSON, the page;
* ``static/``: the page itself, plain HTML/CSS/JS shipped in the package (no CDN).

Starlette and uvicorn are the ``serve`` extra: ``pip install 'digitnet[serve]'``.
"""
