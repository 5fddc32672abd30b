"""A simulated Impinj R700 speaking the IoT Device Interface (REST + HTTP stream), for tests without hardware.

An independent implementation of the device: its own JSON encoding (``encoding``), state (``reader``) and
HTTP server (``server``); it shares no code with ``drivers.impinj_iot``. Tags come from the scenario
library (``simulators.llrp.scenario``), so every run has its ground truth. Faults: ``faults``.
"""
