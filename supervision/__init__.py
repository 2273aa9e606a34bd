"""Supervision of business chat: policies (lexicons, sampling, always-review), the review
queue, and review decisions sealed into the archive as ``review_decision`` records.

Imports ``archive/`` only; ``archive/`` never imports this package. The composition root
(``chatkeeper/``) wires it: the CLI in ``chatkeeper/commands_review.py`` and, after each
successful seal, ``supervision.hook.AfterSeal`` (see docs/supervision.md).
"""
