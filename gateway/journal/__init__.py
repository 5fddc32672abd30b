"""The journal: a hash chain over every event from the point of capture, with signed checkpoints
(docs/traceability.md). ``entry``: the canonical form and the links; ``keys``: Ed25519 keys;
``checkpoint``: signed checkpoints; ``verify``: the checks an auditor runs with the public key alone."""
