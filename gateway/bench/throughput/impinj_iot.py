"""The impinj-iot driver's cost per read beside the LLRP driver's (issue 19).

1. Decode only, in this process: the same scenario's reads as the HTTP stream's bytes (one chunk per JSON
   line, the simulator's encoding) through ``ChunkedBody`` + ``LineDecoder``, and as RO_ACCESS_REPORTs of
   50 tags through the LLRP driver's ``TagReadDecoder``: CPU per read.
2. Each driver whole, in this process, reading its simulator (a child process) over loopback at
   ``RATE`` tags/s, a scenario played in real time by both: the driver's threads' CPU (this process's CPU
   time; the simulators run elsewhere) per read and as a share of one core.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from gateway.bench.throughput.processes import BenchError, stop
from gateway.domain.model import TagRead
from simulators.llrp.scenario import ReadStream, Scenario, scenario_from_dict

RATE = 1500  # tags/s: 4 pallets of 25 tags in the field, 2 antennas each, 7.5 reads/s per tag and antenna


def paced_scenario(pallets: int = 40) -> dict[str, Any]:
    return {
        "name": "impinj-bench",
        "read_rate": 7.5,
        "seed": 19,
        "pallets": [
            {
                "name": f"pallet-{i + 1}",
                "location": "dock-1",
                "tags": [{"sgtin": {"company_prefix": "0614141", "item_reference": f"9{i:05d}", "count": 25}}],
                "visits": [
                    {"start": 0.5 * i, "end": 0.5 * i + 2.0, "antennas": {1 + i % 4: -52, 1 + (i + 1) % 4: -60}}
                ],
            }
            for i in range(pallets)
        ],
    }


def _reads(scenario: Scenario) -> list[Any]:
    return ReadStream(scenario).reads_until(scenario.duration_s + 1)


def bench_decode(seconds: float) -> dict[str, Any]:
    from drivers.impinj_iot.events import LineDecoder
    from drivers.impinj_iot.http import ChunkedBody
    from drivers.llrp.wire import TagReadDecoder
    from simulators.impinj_iot.encoding import TagLines
    from simulators.llrp.recording import record

    scenario = scenario_from_dict(paced_scenario())
    reads = _reads(scenario)
    tags = TagLines()
    lines = [tags.line(r.epc, r.antenna, r.rssi, 1_800_000_000 + r.t_s, 902750, 123.45).encode() + b"\n" for r in reads]
    chunks = [b"%x\r\n%s\r\n" % (len(line), line) for line in lines]
    packets = [b"".join(chunks[i : i + 100]) for i in range(0, len(chunks), 100)]  # ~100 lines per recv()
    recording = record(scenario, tags_per_report=50)
    frames = [f for f, n in zip(recording.frames, recording.reads, strict=True) if n]

    def impinj() -> int:
        body, decoder = ChunkedBody(), LineDecoder("r")
        return sum(len(decoder.feed(body.feed(p), 0.0).reads) for p in packets)

    def llrp() -> int:
        decoder = TagReadDecoder("r")
        return sum(len(decoder.decode(f, 0.0)) for f in frames)

    out: dict[str, Any] = {"line_bytes": round(sum(map(len, lines)) / len(lines))}
    for name, work in (("impinj_iot", impinj), ("llrp", llrp)):
        n, cpu0, deadline = 0, time.process_time(), time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            n += work()
        out[f"{name}_cpu_us_per_read"] = round((time.process_time() - cpu0) / n * 1e6, 2)
    return out


def _start(cmd: list[str], pattern: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", *cmd, "--log-level", "WARNING"], stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(pattern, line)
        if match:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
            return process, int(match.group(1))
    raise BenchError(f"{cmd[0]} did not start (exit {process.wait()})")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (its own trust anchor) and its key."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "impinj-sim")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "sim.crt", folder / "sim.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _driver_run(kind: str, folder: Path, seconds: float, warmup: float) -> dict[str, Any]:
    from drivers.registry import create_driver
    from gateway.config import parse_config

    scenario_file = folder / "impinj-bench.yaml"
    scenario_file.write_text(yaml.safe_dump(paced_scenario()))
    if kind.startswith("impinj-iot"):
        tls: list[str] = []
        reader: dict[str, Any] = {
            "name": "r",
            "type": "impinj-iot",
            "antennas": [1, 2, 3, 4],
            "password_file": str(folder / "pw"),
        }
        if kind == "impinj-iot-https":
            cert, key = _self_signed(folder)
            tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
            reader["ca_file"] = str(cert)
        sim, port = _start(
            ["simulators.impinj_iot", "--port", "0", "--scenario", str(scenario_file), "--loop", *tls],
            r"listening on 127\.0\.0\.1:(\d+)",
        )
        (folder / "pw").write_text("impinj\n")
        if tls:
            reader["url"] = f"https://127.0.0.1:{port}"
        else:
            reader.update(url=f"http://127.0.0.1:{port}", insecure_http=True)
    else:
        sim, port = _start(
            ["simulators.llrp", "--port", "0", "--scenario", str(scenario_file), "--loop"],
            r"listening on 127\.0\.0\.1:(\d+)",
        )
        reader = {"name": "r", "type": "llrp", "host": "127.0.0.1", "port": port, "antennas": [1, 2, 3, 4]}
    count = [0]

    def sink(reads: list[TagRead]) -> None:
        count[0] += len(reads)

    try:
        site = {
            "gateway": {"id": "b"},
            "readers": [reader],
            "locations": [{"name": "dock-1", "read_points": [{"reader": "r"}]}],
        }
        driver = create_driver(parse_config(yaml.safe_dump(site)).readers[0], sink, lambda *a: None)
    except BaseException:
        stop(sim)
        raise
    try:
        driver.start()
        time.sleep(warmup)
        n0, cpu0, t0 = count[0], time.process_time(), time.perf_counter()
        time.sleep(seconds)
        n, cpu, elapsed = count[0] - n0, time.process_time() - cpu0, time.perf_counter() - t0
    finally:
        driver.stop()
        stop(sim)
    if not n:
        raise BenchError(f"the {kind} driver read nothing from its simulator")
    return {
        "reads_per_s": round(n / elapsed),
        "cpu_us_per_read": round(cpu / n * 1e6, 2),
        "cpu_percent_of_a_core": round(cpu / elapsed * 100, 2),
    }


def bench_impinj_iot(folder: Path, seconds: float, quick: bool) -> dict[str, Any]:
    warmup = 1.0 if quick else 3.0
    return {
        "rate_tags_per_s": RATE,
        "decode": bench_decode(0.5 if quick else min(seconds, 3.0)),
        "impinj_iot": _driver_run("impinj-iot", folder, seconds, warmup),
        "impinj_iot_https": _driver_run("impinj-iot-https", folder, seconds, warmup),
        "llrp": _driver_run("llrp", folder, seconds, warmup),
    }


def render(r: dict[str, Any]) -> list[str]:
    d, imp, https, llrp = r["decode"], r["impinj_iot"], r["impinj_iot_https"], r["llrp"]
    return [
        f"reader drivers at {r['rate_tags_per_s']} tags/s (the same scenario, real time, loopback):",
        f"{'':38} {'reads/s':>9} {'us CPU/read':>12} {'% of a core':>12} {'decode us/read':>15}",
        f"{'impinj-iot (JSON lines, HTTP stream)':38} {imp['reads_per_s']:>9} {imp['cpu_us_per_read']!s:>12} "
        f"{imp['cpu_percent_of_a_core']!s:>12} {d['impinj_iot_cpu_us_per_read']!s:>15}",
        f"{'impinj-iot over HTTPS':38} {https['reads_per_s']:>9} {https['cpu_us_per_read']!s:>12} "
        f"{https['cpu_percent_of_a_core']!s:>12}",
        f"{'llrp (RO_ACCESS_REPORTs)':38} {llrp['reads_per_s']:>9} {llrp['cpu_us_per_read']!s:>12} "
        f"{llrp['cpu_percent_of_a_core']!s:>12} {d['llrp_cpu_us_per_read']!s:>15}",
    ]


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = bench_impinj_iot(Path(tmp), float(sys.argv[1]) if len(sys.argv) > 1 else 10.0, False)
    print("\n".join(render(result)))
    print(json.dumps(result))
