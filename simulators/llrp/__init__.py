"""A simulated LLRP 1.0.1 RFID reader that plays scenarios to a real LLRP client (the gateway's driver,
sllurp). It is the driver's independent twin: it shares no code with ``drivers/``, so a protocol mistake
on one side shows up as a failed test instead of agreeing with itself.

How it fits together, from the socket inwards:

- ``server.py``: ``LLRPSimulator``, the TCP port; one client at a time, a second one refused;
- ``session.py``: one client's connection, its requests, reports, keepalives and reader events;
- ``specs.py`` and ``rospec.py``: the ROSpecs and AccessSpecs a client adds, and what a ROSpec asks for;
- ``inventory.py``: a running ROSpec turning the scenario's reads into TagReportData;
- ``reader.py``: the settings and the state that outlive a connection; ``capabilities.py``: what the
  reader says about itself (vendor profiles);
- ``field_events.py``, ``faults.py``: faults, antenna events and GPI pulses on a schedule;
- ``frames/``: the LLRP wire format; ``recording.py``: recorded report streams to replay;
- ``scenario/``: scenarios, their file format and ground truth; ``epc.py``: SGTIN-96 and SSCC-96;
  ``durations.py``: durations and the scenario error; ``examples/``: the packaged scenarios;
- ``cli.py``: ``dockgate simulate llrp``.
"""
