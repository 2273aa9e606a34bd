"""The Telegram adapter: capture over webhook or an own getUpdates loop, admin commands,
media downloads, Desktop export import, completeness and visibility checks, and a fake Bot API.
"""
