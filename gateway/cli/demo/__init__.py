"""``dockgate demo``: a dock door at work, with nothing to install or configure.

Starts the LLRP reader simulator on a scenario from the library, an embedded MQTT broker (a child
process, ``broker``) and the gateway (a thread), subscribes to the gateway's own topics, and shows what
happens (``run``):

- on a terminal, a live view (rich, ``screen``): the door's readers and antennas with read rates, the
  tags present and which way they move, the last events as the broker delivered them, the outbox and
  the broker; with ``--epcis`` also the EPCIS documents;
- otherwise (a pipe, a log file, the tests), one plain line per delivered message (``lines``).

Ctrl-C stops everything, in both modes. The read rates come from the batches the gateway's main loop
shows ``DoorWatch`` (``watch``, via ``Gateway.tap_reads``); the outbox and broker figures from the
snapshot it publishes each turn; everything else is what a consumer sees on the broker. ``setup``
builds the gateway's config for a scenario.
"""
