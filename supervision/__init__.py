"""Supervision of business chat: policies (lexicons, sampling, always-review), the review
queue, and review decisions sealed into the archive as ``review_decision`` records.

Imports ``archive/`` only; ``archive/`` never imports this package. The composition root
(``chatkeeper/``) wires it: the CLI in ``chatkeeper/commands/review.py`` and, after each
seal that wrote bundles (``serve`` and ``seal``), ``supervision.hook.AfterSeal`` built by
``chatkeeper/screening.py`` (see docs/supervision.md).
"""
