"""Platform adapters. Each turns SDK payloads into archive records at the edge."""
