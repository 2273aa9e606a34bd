"""Search over the sealed archive: an index built from verified bundles only.

``SearchIndex`` is the port (``search/port.py``); ``SqliteSearchIndex`` (FTS5,
the embedded default) and ``PostgresSearchIndex`` (tsvector + GIN) are its
adapters. Queries are parsed once into an AST (``search/query.py``) and
compiled per backend (``search/compile.py``). Text is normalized and split
into tokens in Python (``search/text.py``) for both backends, so they agree
on what a word is. This package imports ``archive/``, never ``bots/`` or
``exporters/``; the composition root wires exports.
"""
