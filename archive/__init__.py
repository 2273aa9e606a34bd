"""chatkeeper's archive core: records, journal, sealing, verification.

The core imports neither ``bots`` nor ``exporters``; they import it.
"""
