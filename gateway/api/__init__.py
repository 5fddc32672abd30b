"""The gateway's local HTTP API on ``metrics.listen``: /metrics, /healthz, /readyz and /api/v1 (bearer tokens)."""
