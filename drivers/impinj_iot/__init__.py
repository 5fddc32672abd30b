"""Impinj readers through the Impinj IoT Device Interface (R700's default: REST + an HTTP stream of JSON
lines), standard library only (``http.client``, ``ssl``, ``socket``).

- ``settings``: the reader's settings model (URL, TLS, credentials, preset or inventory).
- ``driver``: ``ImpinjIotDriver``, the supervisor: sessions, backoff, slow retry after refusals, status.
- ``session``: one connection: status, start the profile, read the stream, liveness.
- ``profile``: the preset start or the transient InventoryRequest body.
- ``http``: REST calls and the stream's socket, chunked transfer coding undone incrementally.
- ``events``: stream lines -> ``TagRead`` and reader events (the per-read hot path).

A Zebra FX through Zebra's IoT Connector would be a sibling package with the same parts (docs/impinj-iot.md).
"""
