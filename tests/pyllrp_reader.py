"""A second LLRP reader for the tests, sharing no code with dockgate's simulator or driver.

Every message is encoded and decoded by pyllrp (MIT, its own LLRP 1.0.1 tables); the framing, the ROSpec
states and the reports are written here from the standard, not from ``simulators/llrp``. What it does:

- one TCP client at a time; on connect a READER_EVENT_NOTIFICATION with ConnectionAttemptEvent Success
  (a second client gets ``Failed_A_Client_Initiated_Connection_Already_Exists`` and is closed);
- answers GET_READER_CAPABILITIES, GET_READER_CONFIG, SET_READER_CONFIG (a periodic KeepaliveSpec starts
  KEEPALIVEs), ADD/DELETE/ENABLE/DISABLE/START/STOP_ROSPEC, GET_ROSPECS (the ROSpecs it holds, each with
  its state) and CLOSE_CONNECTION; ENABLE_EVENTS_AND_REPORTS and KEEPALIVE_ACK need no answer; anything
  else gets an ERROR_MESSAGE M_UnsupportedMessage;
- ROSpec states as LLRP says: added Disabled; ENABLE makes it Inactive (Active at once with an Immediate
  start trigger); START_ROSPEC on an Inactive one makes it Active, on any other it is an error; STOP
  makes an Active one Inactive;
- while a ROSpec is Active, every ``report_period`` an RO_ACCESS_REPORT with one TagReportData per tag in
  the field (``set_tags``), the fields chosen by the ROSpec's TagReportContentSelector; an EPC of 96 bits
  as EPC-96, any other as EPCData.

pyllrp encodes slowly (about 2.4k tags/s): keep a few tags in the field.
"""

from __future__ import annotations

import contextlib
import queue
import select
import socket
import struct
import threading
import time
from typing import Any

import bitstring
from pyllrp import pyllrp as P

IANA_PEN = 64_000  # a private enterprise number that no reader vendor uses
TX_POWER_CDBM = [1000 + 100 * i for i in range(21)]  # 10.00 ... 30.00 dBm


def pack(message: Any) -> bytes:
    data: bytes = message.pack(bitstring.BitStream()).tobytes()
    return data


def unpack(frame: bytes) -> Any:
    return P.UnpackMessage(bitstring.ConstBitStream(bytes=frame))


def status(code: str = "M_Success", text: str = "") -> Any:
    return P.LLRPStatus_Parameter(StatusCode=getattr(P.StatusCode, code), ErrorDescription=text)


def _bits_to_int(param: Any) -> None:
    """pyllrp decodes a field of a few bits (C1G2SingulationControl.Session) as a bit string but encodes it
    only from an int: make a decoded parameter encodable again."""
    for field in param.DataFields:
        value = getattr(param, field.Name, None)
        if isinstance(value, bitstring.Bits):
            setattr(param, field.Name, value.uint)
    for child in param.Parameters:
        _bits_to_int(child)


class PyllrpReader:
    """``start()``, ``port``, ``set_tags({epc_hex: antenna})``, ``stop()``; what the client sent is in
    ``received`` (message names, in order) and ``keepalive_acks``; what it could not handle in ``errors``."""

    def __init__(self, report_period: float = 0.2, antennas: int = 4) -> None:
        self.report_period = report_period
        self.antennas = antennas
        self.lock = threading.Lock()
        self.received: list[str] = []
        self.errors: list[str] = []
        self.keepalive_acks = 0
        self.connections = 0
        self.reports_sent = 0
        self.rospecs: dict[int, tuple[Any, str]] = {}  # id -> (pyllrp ROSpec parameter, state)
        self._tags: dict[str, tuple[int, int]] = {}  # epc -> (antenna, first seen in microseconds)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pyllrp-reader", daemon=True)
        self._client: socket.socket | None = None
        self._buf = bytearray()
        self._keepalive_s: float | None = None
        self._next_keepalive = self._next_report = 0.0
        self._msg_id = 1000
        self._raw: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    # ---- control, from the test's thread --------------------------------------------------------

    def start(self) -> PyllrpReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._drop_client()
        self._listener.close()

    def set_tags(self, tags: dict[str, int]) -> None:
        """The tags in the field from now on (EPC hex -> antenna); an empty dict: no more tag reports."""
        now = int(time.time() * 1e6)
        with self.lock:
            self._tags = {epc: (antenna, self._tags.get(epc, (0, now))[1]) for epc, antenna in tags.items()}

    def inject(self, data: bytes) -> None:
        """Bytes for the connected client as they are, between two messages (hostile-input tests)."""
        self._raw.put(data)

    def state_of(self, rospec_id: int) -> str | None:
        with self.lock:
            held = self.rospecs.get(rospec_id)
            return held[1] if held else None

    # ---- the reader's thread -------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            watch = [self._listener] + ([self._client] if self._client else [])
            ready, _, _ = select.select(watch, [], [], 0.02)
            if self._listener in ready:
                self._accept()
            if self._client is not None and self._client in ready:
                self._receive()
            if self._client is not None:
                self._timers(time.monotonic())
            while self._client is not None and not self._raw.empty():
                with contextlib.suppress(OSError):
                    self._client.sendall(self._raw.get())

    def _accept(self) -> None:
        sock, _ = self._listener.accept()
        if self._client is not None:
            self._event(
                sock,
                P.ConnectionAttemptEvent_Parameter(
                    Status=P.ConnectionAttemptStatusType.Failed_A_Client_Initiated_Connection_Already_Exists
                ),
            )
            sock.close()
            return
        self._client, self._buf = sock, bytearray()
        self._keepalive_s = None
        with self.lock:
            self.connections += 1
        self._event(sock, P.ConnectionAttemptEvent_Parameter(Status=P.ConnectionAttemptStatusType.Success))

    def _event(self, sock: socket.socket, event: Any) -> None:
        data = P.ReaderEventNotificationData_Parameter(
            Parameters=[P.UTCTimestamp_Parameter(Microseconds=int(time.time() * 1e6)), event]
        )
        sock.sendall(pack(P.READER_EVENT_NOTIFICATION_Message(MessageID=self._new_id(), Parameters=[data])))

    def _new_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    def _drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.close()
            self._client = None

    def _receive(self) -> None:
        assert self._client is not None
        try:
            data = self._client.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop_client()
            return
        self._buf += data
        while len(self._buf) >= 10:
            length = struct.unpack_from("!I", self._buf, 2)[0]
            if length < 10 or len(self._buf) < length:
                break
            frame, self._buf = bytes(self._buf[:length]), self._buf[length:]
            self._handle(frame)
            if self._client is None:
                return

    def _send(self, message: Any) -> None:
        if self._client is not None:
            try:
                self._client.sendall(pack(message))
            except OSError:
                self._drop_client()

    def _handle(self, frame: bytes) -> None:
        try:
            msg = unpack(frame)
        except Exception as exc:  # the test reports what pyllrp could not read
            msg_type = struct.unpack_from("!H", frame)[0] & 0x3FF
            with self.lock:
                self.errors.append(f"type {msg_type}: pyllrp cannot decode it: {exc!r}; bytes {frame.hex()}")
            self._send(P.ERROR_MESSAGE_Message(MessageID=0, Parameters=[status("M_UnsupportedMessage")]))
            return
        name = type(msg).__name__.removesuffix("_Message")
        with self.lock:
            self.received.append(name)
        handler = getattr(self, f"_on_{name.lower()}", None)
        if handler is None:
            with self.lock:
                self.errors.append(f"{name}: not handled by this reader")
            self._send(P.ERROR_MESSAGE_Message(MessageID=msg.MessageID, Parameters=[status("M_UnsupportedMessage")]))
            return
        try:
            handler(msg)
        except Exception as exc:  # a bug here must show in the test, not end the reader's thread
            with self.lock:
                self.errors.append(f"{name}: the reader failed to answer: {exc!r}")
            self._send(P.ERROR_MESSAGE_Message(MessageID=msg.MessageID, Parameters=[status("M_FieldError")]))

    def _answer(self, msg: Any, *params: Any, code: str = "M_Success", text: str = "") -> None:
        response = P.GetResponseClass(msg)
        self._send(response(MessageID=msg.MessageID, Parameters=[status(code, text), *params]))

    # ---- messages -------------------------------------------------------------------------------

    def _on_get_reader_capabilities(self, msg: Any) -> None:
        general = P.GeneralDeviceCapabilities_Parameter(
            MaxNumberOfAntennaSupported=self.antennas,
            CanSetAntennaProperties=False,
            HasUTCClockCapability=True,
            DeviceManufacturerName=IANA_PEN,
            ModelName=1,
            ReaderFirmwareVersion="pyllrp-reader 1",
            Parameters=[
                P.ReceiveSensitivityTableEntry_Parameter(Index=1, ReceiveSensitivityValue=0),
                P.GPIOCapabilities_Parameter(NumGPIs=0, NumGPOs=0),
                *(
                    P.PerAntennaAirProtocol_Parameter(AntennaID=a, ProtocolID=[P.AirProtocols.EPCGlobalClass1Gen2])
                    for a in range(1, self.antennas + 1)
                ),
            ],
        )
        mode = P.C1G2UHFRFModeTableEntry_Parameter(
            ModeIdentifier=0, DRValue=False, EPCHAGTCConformance=False, MValue=0, ForwardLinkModulation=0,
            SpectralMaskIndicator=0, BDRValue=640000, PIEValue=1500, MinTariValue=6250, MaxTariValue=6250,
            StepTariValue=0,
        )  # fmt: skip
        band = P.UHFBandCapabilities_Parameter(
            Parameters=[
                *(
                    P.TransmitPowerLevelTableEntry_Parameter(Index=i + 1, TransmitPowerValue=cdbm)
                    for i, cdbm in enumerate(TX_POWER_CDBM)
                ),
                P.FrequencyInformation_Parameter(
                    Hopping=True,
                    Parameters=[P.FrequencyHopTable_Parameter(HopTableID=1, Frequency=[902750, 915250, 927250])],
                ),
                P.C1G2UHFRFModeTable_Parameter(Parameters=[mode]),
            ]
        )
        regulatory = P.RegulatoryCapabilities_Parameter(CountryCode=840, CommunicationsStandard=1, Parameters=[band])
        self._answer(msg, general, regulatory)

    def _on_get_reader_config(self, msg: Any) -> None:
        self._answer(msg)

    def _on_set_reader_config(self, msg: Any) -> None:
        spec = msg.getFirstParameterByClass(P.KeepaliveSpec_Parameter)
        if spec is not None:
            periodic = spec.KeepaliveTriggerType == P.KeepaliveTriggerType.Periodic
            self._keepalive_s = spec.PeriodicTriggerValue / 1000 if periodic and spec.PeriodicTriggerValue else None
            self._next_keepalive = time.monotonic() + (self._keepalive_s or 0)
        self._answer(msg)

    def _on_enable_events_and_reports(self, _msg: Any) -> None:
        """No answer in LLRP."""

    def _on_keepalive_ack(self, _msg: Any) -> None:
        with self.lock:
            self.keepalive_acks += 1

    def _on_close_connection(self, msg: Any) -> None:
        self._answer(msg)
        self._drop_client()

    def _on_add_rospec(self, msg: Any) -> None:
        spec = msg.getFirstParameterByClass(P.ROSpec_Parameter)
        _bits_to_int(spec)  # held to be encoded again in GET_ROSPECS_RESPONSE
        with self.lock:
            if spec.ROSpecID in self.rospecs:
                code = "M_FieldError"
            else:
                code, self.rospecs[spec.ROSpecID] = "M_Success", (spec, "Disabled")
        self._answer(msg, code=code, text="" if code == "M_Success" else f"ROSpec {spec.ROSpecID} exists")

    def _on_delete_rospec(self, msg: Any) -> None:
        with self.lock:
            if msg.ROSpecID == 0:
                self.rospecs.clear()
                found = True
            else:
                found = self.rospecs.pop(msg.ROSpecID, None) is not None
        if found:
            self._answer(msg)
        else:
            self._answer(msg, code="M_FieldError", text=f"no ROSpec {msg.ROSpecID}")

    def _transition(self, msg: Any, allowed: tuple[str, ...], to: str) -> None:
        with self.lock:
            held = self.rospecs.get(msg.ROSpecID)
            if held is None or held[1] not in allowed:
                state = held[1] if held else "absent"
                problem = f"ROSpec {msg.ROSpecID} is {state}, expected {' or '.join(allowed)}"
            else:
                problem = ""
                spec, _ = held
                if to == "Inactive" and allowed == ("Disabled",) and self._immediate(spec):
                    to = "Active"
                self.rospecs[msg.ROSpecID] = (spec, to)
        if problem:
            self._answer(msg, code="M_FieldError", text=problem)
        else:
            self._answer(msg)

    @staticmethod
    def _immediate(spec: Any) -> bool:
        trigger = spec.getFirstParameterByClass(P.ROSpecStartTrigger_Parameter)
        return bool(trigger is not None and trigger.ROSpecStartTriggerType == P.ROSpecStartTriggerType.Immediate)

    def _on_enable_rospec(self, msg: Any) -> None:
        self._transition(msg, ("Disabled",), "Inactive")

    def _on_disable_rospec(self, msg: Any) -> None:
        self._transition(msg, ("Inactive", "Active"), "Disabled")

    def _on_start_rospec(self, msg: Any) -> None:
        self._transition(msg, ("Inactive",), "Active")

    def _on_stop_rospec(self, msg: Any) -> None:
        self._transition(msg, ("Active",), "Inactive")

    def _on_get_rospecs(self, msg: Any) -> None:
        with self.lock:
            held = list(self.rospecs.values())
        specs = []
        for spec, state in held:
            spec.CurrentState = getattr(P.ROSpecState, state)
            specs.append(spec)
        self._answer(msg, *specs)

    # ---- what the reader sends on its own -----------------------------------------------------

    def _timers(self, now: float) -> None:
        if self._keepalive_s and now >= self._next_keepalive:
            self._next_keepalive = now + self._keepalive_s
            self._send(P.KEEPALIVE_Message(MessageID=self._new_id()))
        if now >= self._next_report:
            self._next_report = now + self.report_period
            with self.lock:
                active = [spec for spec, state in self.rospecs.values() if state == "Active"]
                tags = dict(self._tags)
            if active and tags:
                self._report(active[0], tags)

    def _report(self, spec: Any, tags: dict[str, tuple[int, int]]) -> None:
        selector = spec.getFirstParameterByClass(P.TagReportContentSelector_Parameter)
        on = {f.Name: bool(getattr(selector, f.Name)) for f in selector.DataFields} if selector else {}
        now = int(time.time() * 1e6)
        data = []
        for epc, (antenna, first_us) in tags.items():
            raw = bytes.fromhex(epc)
            params: list[Any] = [
                P.EPC_96_Parameter(EPC=int(epc, 16)) if len(raw) == 12 else P.EPCData_Parameter(EPC=raw)
            ]
            if on.get("EnableROSpecID"):
                params.append(P.ROSpecID_Parameter(ROSpecID=spec.ROSpecID))
            if on.get("EnableAntennaID"):
                params.append(P.AntennaID_Parameter(AntennaID=antenna))
            if on.get("EnablePeakRSSI"):
                params.append(P.PeakRSSI_Parameter(PeakRSSI=-52 - antenna))
            if on.get("EnableFirstSeenTimestamp"):
                params.append(P.FirstSeenTimestampUTC_Parameter(Microseconds=first_us))
            if on.get("EnableLastSeenTimestamp"):
                params.append(P.LastSeenTimestampUTC_Parameter(Microseconds=now))
            if on.get("EnableTagSeenCount"):
                params.append(P.TagSeenCount_Parameter(TagCount=3))
            data.append(P.TagReportData_Parameter(Parameters=params))
        self._send(P.RO_ACCESS_REPORT_Message(MessageID=self._new_id(), Parameters=data))
        with self.lock:
            self.reports_sent += 1
