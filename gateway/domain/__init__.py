"""The domain every part may import: what flows (reads, events), the errors, the settings primitives,
structured logging and backoff. A leaf: it imports nothing else of dockgate's, so drivers, the core,
delivery and ops all depend on it and never on each other by accident."""
