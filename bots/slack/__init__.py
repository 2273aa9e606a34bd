"""The Slack side of chatkeeper: Bolt wiring, pure translate functions, importers, sandbox."""
