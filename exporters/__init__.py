"""Exporters: pure functions from sealed records to files for eDiscovery and for people."""
