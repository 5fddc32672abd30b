"""Throughput of the whole gateway against the alternatives, on one recorded LLRP byte stream and one broker.

    dockgate bench throughput            # a table (about 2 minutes)
    dockgate bench throughput --json     # one JSON object
    dockgate bench throughput --quick    # a few seconds per part: a smoke run, not figures

The stream (``stream``): ``rotating_scenario()`` recorded with the simulator's own encoders into
RO_ACCESS_REPORTs of 100 reads. Pallets of 100 tags pass one after the other on two antennas, each tag
read about 80 times per visit; the simulator loops the file, so every tag comes back after the whole
stream has played. With ``depart_after: 500ms`` each pass of a tag is one ``arrived`` and one
``departed``: about 2.5 events per 100 reads, at any replay speed that keeps a loop longer than 0.5 s.

Parts, each a separate process where it matters (the machine's cores are shared by all of them):

1. full gateway (``gateway_runs``): ``dockgate run`` (child) <- LLRP simulator replaying at full speed
   (child) over TCP, -> mosquitto (child, ``max_queued_messages 0``, nobody subscribed). Reads/s and
   events/s from the gateway's ``/metrics`` counters over a window after a warm-up, CPU from the gateway
   process's user+system time, read-to-PUBACK latency from its ``dockgate_read_to_publish_latency_seconds``
   histogram (arrivals: from the read that confirmed the arrival; departures: from the decision);
   percentiles interpolated inside the histogram's buckets (1, 2.5, 5, 7.5, 10, 15, 20, 25, 30, 40, 50, 75, 100 ms ...).
2. sllurp decode-only (``decode``): ``LLRPMessage(msgbytes=frame)`` on each frame of the same stream, in process.
3. naive gateway (``naive``): sllurp's ``LLRPReaderClient`` + one paho QoS 1 publish per read.
4. the full gateway again with the stream paced at 20k reads/s: event latency under a steady load.
5. the reader drivers (``impinj_iot``): the impinj-iot driver (over HTTP and HTTPS) beside the LLRP driver,
   each in process reading its own simulator (child) at 1,500 tags/s, and their decoders alone.

Separately: bytes per tracked tag (``memory``: RSS of a child holding 10k/100k/1M tags in the pipeline's
presence tracker, fed in reports of 100 tags; up to 100k also the live heap by tracemalloc), idle RSS of
``dockgate run`` with one reader connected, start-up time (spawn ->
``/readyz`` 200), and the outbox benchmarks (``outbox``). ``report`` runs them all and prints the table.

Every child is started with this interpreter and imports only installed packages, so the command works
from any directory.
"""
