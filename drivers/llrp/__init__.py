"""LLRP fixed readers (Impinj, Zebra and any LLRP 1.0.1 reader): dockgate's own connection state machine
around sllurp's message codec.

Why not sllurp's client: an ERROR_MESSAGE during configuration is fatal to it, it never notices that
keepalives stopped, its ROSpec cannot wait for a GPI, and its reconnect gives up. sllurp stays the
encoder/decoder of the control messages; tag reports take a ``struct`` fast path (both in ``wire``).
One thread per reader does everything for that reader (socket, keepalive watchdog, GPI gating, GPO
pulses), so a failing or flooding reader never holds up another one.

- ``settings``: the reader's settings model (no sllurp: the config imports it eagerly).
- ``driver``: ``LLRPDriver``, the supervisor: connect, reconnect with backoff, status.
- ``session``: one TCP connection: handshake, requests and answers, what the reader sends on its own.
- ``setup``: capabilities -> session, mode, power; the reader config and the ROSpec.
- ``gpio``: GPI gating (read while a photo eye sees something) and GPO pulses.
- ``rospec``: START_ROSPEC and GET_ROSPECS: ``inventorying`` only once the reader confirms it.
- ``watchdog``: the no-read watchdog (``no_reads_after``): ``idle``, one corrective step per period.
- ``wire``: frame splitting, sllurp's codec, and RO_ACCESS_REPORT straight to ``TagRead``.

Nothing is imported here, so that importing the settings does not import sllurp.
"""
