"""The reader's REST API and its HTTP stream, over HTTPS (or HTTP when asked), with Basic authentication.

REST calls go through ``http.client``, one connection each. The stream is read from the socket directly:
it stays open for hours, and its reader must wake up every ``POLL_S`` to notice stop() and a silent
stream without losing bytes (a timed-out ``http.client`` response cannot be read again); ``ChunkedBody``
undoes the chunked transfer coding incrementally, fed bytes as they come.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from drivers.impinj_iot.settings import ImpinjIotReaderSettings

POLL_S = 0.1
_HEADER_MAX = 65536


class StreamError(Exception):
    """The stream's bytes are not HTTP/1.1 as expected; ``str()`` says how."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    body: bytes

    def message(self) -> str:
        """The reader's ErrorResponse ``message`` (and ``detail``), else the start of the body."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return self.body[:200].decode("utf-8", "replace").strip()
        if isinstance(data, dict):
            parts = [str(data[k]) for k in ("message", "detail") if data.get(k)]
            return ": ".join(parts)
        return ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def tls_context(settings: ImpinjIotReaderSettings) -> ssl.SSLContext:
    """TLS 1.2 or newer, the reader's certificate checked against ``ca_file`` (or the system's CAs)."""
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = settings.verify_hostname
    return context


class Endpoint:
    """Where the reader is and how to talk to it. The password lives only in the Authorization header."""

    def __init__(self, settings: ImpinjIotReaderSettings, password: str | None) -> None:
        parts = urlsplit(settings.url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.timeout = settings.response_timeout
        self.context = tls_context(settings) if self.https else None
        token = base64.b64encode(f"{settings.username}:{password or ''}".encode()).decode("ascii")
        self._auth = f"Basic {token}"

    @property
    def where(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.host}:{self.port}"

    def request(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Answer:
        """One request; OSError (ssl.SSLError included) and http.client.HTTPException when it cannot be made."""
        wait = timeout or self.timeout
        conn: http.client.HTTPConnection
        if self.context is not None:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=wait, context=self.context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=wait)
        headers = {"Authorization": self._auth, "Accept": "application/json", "Connection": "close"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return Answer(response.status, response.reason, response.read())
        finally:
            conn.close()

    def open_stream(self, path: str) -> Stream:
        """GET ``path`` and read the answer's head; a status other than 200 comes back as ``Stream.answer``."""
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            sock: socket.socket = raw
            if self.context is not None:
                sock = self.context.wrap_socket(raw, server_hostname=self.host)
            head = (
                f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: {self._auth}\r\n"
                "Accept: application/json\r\nUser-Agent: dockgate\r\n\r\n"
            )
            sock.sendall(head.encode("latin-1"))
            return Stream(sock, self.timeout)
        except BaseException:
            raw.close()
            raise


class Stream:
    """The stream's body as it comes: ``read()`` gives bytes (b"" when nothing came within ``POLL_S``) and
    raises ``EOFError`` when the reader closes it. A non-200 answer is ``answer`` (the body read whole)."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        sock.settimeout(timeout)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise EOFError("the reader closed the connection before answering")
            buf += data
            if len(buf) > _HEADER_MAX:
                raise StreamError("the answer's head is larger than 64 KiB")
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            _, code, *reason = lines[0].split(" ", 2)
            self.status = int(code)
        except ValueError:
            raise StreamError(f"not an HTTP status line: {lines[0][:80]!r}") from None
        self.reason = reason[0] if reason else ""
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self.body = ChunkedBody() if self.chunked else None
        self._pending = rest
        self.answer: Answer | None = None
        if self.status != 200:
            self.answer = Answer(self.status, self.reason, self._read_small(headers))
        sock.settimeout(POLL_S)

    def _read_small(self, headers: dict[str, str]) -> bytes:
        """The body of a refusal: its Content-Length, its chunks up to the last, or 4 KiB, within 2 s."""
        data, self._pending = self._pending, b""
        body = ChunkedBody() if self.chunked else None
        length = int(headers["content-length"]) if headers.get("content-length", "").isdigit() else None
        out = b""
        self.sock.settimeout(2.0)
        try:
            while True:
                out += body.feed(data) if body is not None else data
                if (body is not None and body.done) or (length is not None and len(out) >= length) or len(out) > 4096:
                    break
                data = self.sock.recv(4096)
                if not data:
                    break
        except (OSError, StreamError):
            pass
        return out[:4096]

    def read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
        else:
            try:
                data = self.sock.recv(262144)
            except TimeoutError:
                return b""
            if not data:
                raise EOFError("the reader closed the stream")
        if self.body is not None:
            out = self.body.feed(data)
            if self.body.done:
                raise EOFError("the reader ended the stream")
            return out
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class ChunkedBody:
    """Chunked transfer coding -> the body's bytes, incrementally: ``feed()`` any split of the input."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._left = 0  # bytes of the current chunk still to come
        self._crlf = False  # the CRLF after a chunk's data is next
        self.done = False

    def feed(self, data: bytes) -> bytes:
        buf = self._buf
        buf += data
        out = bytearray()
        while buf and not self.done:
            if self._left:
                n = min(self._left, len(buf))
                out += buf[:n]
                del buf[:n]
                self._left -= n
                self._crlf = not self._left
            elif self._crlf:
                if len(buf) < 2:
                    break
                if buf[:2] != b"\r\n":
                    raise StreamError("chunk data not followed by CRLF")
                del buf[:2]
                self._crlf = False
            else:
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise StreamError("chunk size line longer than 1 KiB")
                    break
                line = bytes(buf[:end]).split(b";")[0].strip()
                del buf[: end + 1]
                try:
                    size = int(line, 16)
                except ValueError:
                    raise StreamError(f"bad chunk size {line[:20]!r}") from None
                if size == 0:
                    self.done = True
                self._left = size
        return bytes(out)
