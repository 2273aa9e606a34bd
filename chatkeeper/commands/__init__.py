"""The CLI commands, one module per command group.

``group`` holds the root ``chatkeeper`` group (errors mapped to exit codes,
settings and logging set up once) and the ``import``, ``backfill`` and
``completeness`` groups; every other module attaches its commands to them with
plain decorators when ``chatkeeper.cli`` imports it: ``core`` (seal, verify,
status, local-s3), ``keys``, ``export`` (export, verify-export), ``slack``,
``telegram``, ``attachments``, ``demo``.
"""
