"""The officers' web console: search, conversation view, verify, export, audit trail.

It reads the sealed archive only through the verifying reader, with a read-only
S3 identity, and archives every officer action as an ``officer_action`` record.
It imports ``archive`` and ``exporters``, never ``bots``.
"""
