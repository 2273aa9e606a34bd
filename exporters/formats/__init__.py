"""The format writers: rsmf (+ its manifest), eml, html, slack, csv, jsonl.

Each renders a ``RenderContext`` (spilled conversations, the output directory,
the blob source) into one format's files; jsonl streams records instead.
Bytes depend only on the records and the request, never on the process.
"""
