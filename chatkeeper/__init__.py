"""The composition root: the ``chatkeeper`` CLI, the HTTP server and the demo."""

__version__ = "0.1.0"
