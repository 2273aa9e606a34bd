"""Temporary alias of ``chatkeeper.build`` for ``chatkeeper/serve.py`` until the issue 9 merge.

serve.py belongs to the bots renovation; at the merge it imports
``chatkeeper.build`` and this module is deleted.
"""

from chatkeeper.build import layout, open_journal, open_store, seal_policy, signer

__all__ = ["layout", "open_journal", "open_store", "seal_policy", "signer"]
