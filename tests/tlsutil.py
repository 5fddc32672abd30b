"""Test helpers: a throwaway PKI made with ``cryptography``, and mosquitto configs with TLS, passwords and ACLs.

Everything is written under a test's ``tmp_path``; nothing here touches the system's trust store. The
certificates are short-lived (one day) EC P-256 keys, which is fast to generate (milliseconds).
"""

from __future__ import annotations

import datetime
import getpass
import ipaddress
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import Broker, _mosquitto, free_port, wait_for_port

_ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """A CA, a server and a client certificate signed by it, and an unrelated second CA with its own server cert."""

    ca: CertFiles
    server: CertFiles
    client: CertFiles
    consumer: CertFiles
    other_ca: CertFiles
    server_from_other_ca: CertFiles


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dockgate tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertFiles:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return CertFiles(cert_path, key_path)


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _ONE_DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = issuer
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _ONE_DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(
    directory: Path,
    client_cn: str = "gw-test",
    consumer_cn: str = "backoffice",
    server_dns: Iterable[str] = ("localhost",),
    server_ips: Iterable[str] = ("127.0.0.1",),
) -> Pki:
    """Write ca, server, client, consumer, other-ca and other-server certificates and keys (PEM) into ``directory``.

    The server certificate names ``server_dns`` and ``server_ips`` in its SubjectAltName (pass an empty
    ``server_ips`` for a certificate valid for ``localhost`` only); the client certificates' CNs are
    ``client_cn`` (the gateway) and ``consumer_cn`` (a back-office subscriber), so mosquitto's
    ``use_identity_as_username`` would turn them into those users.
    """
    directory.mkdir(parents=True, exist_ok=True)
    server_dns, server_ips = list(server_dns), list(server_ips)
    ca = _ca("dockgate test CA")
    other = _ca("unrelated CA")
    return Pki(
        ca=_write(directory, "ca", *ca),
        server=_write(
            directory, "server", *_leaf("localhost", ca, server=True, dns_names=server_dns, ip_addresses=server_ips)
        ),
        client=_write(directory, "client", *_leaf(client_cn, ca, server=False)),
        consumer=_write(directory, "consumer", *_leaf(consumer_cn, ca, server=False)),
        other_ca=_write(directory, "other-ca", *other),
        server_from_other_ca=_write(
            directory,
            "other-server",
            *_leaf("localhost", other, server=True, dns_names=server_dns, ip_addresses=server_ips),
        ),
    )


def write_password_file(path: Path, users: Mapping[str, str]) -> Path:
    """A mosquitto password file (hashed by ``mosquitto_passwd -b``) for ``users`` (name -> password)."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    path.unlink(missing_ok=True)
    for i, (user, password) in enumerate(users.items()):
        args = [tool, "-b", *(["-c"] if i == 0 else []), str(path), user, password]
        subprocess.run(args, check=True, capture_output=True, timeout=10)
    return path


def write_acl_file(path: Path, rules: Mapping[str, Iterable[str]]) -> Path:
    """An ACL file: ``{"gw-test": ["write dockgate/gw-test/#"], "backoffice": ["read dockgate/#"]}``."""
    lines: list[str] = []
    for user, topics in rules.items():
        lines.append(f"user {user}")
        lines.extend(f"topic {rule}" for rule in topics)
        lines.append("")
    path.write_text("\n".join(lines))
    return path


@dataclass(frozen=True)
class Listener:
    """One mosquitto listener. ``tls`` is (ca, server cert files); ``require_certificate`` asks clients for theirs."""

    port: int
    tls: tuple[Path, CertFiles] | None = None
    require_certificate: bool = False
    use_identity_as_username: bool = False


def mosquitto_config(
    directory: Path,
    listeners: Iterable[Listener],
    password_file: Path | None = None,
    acl_file: Path | None = None,
    max_queued_messages: int = 1_000_000,
) -> Path:
    """A mosquitto.conf in ``directory``; authentication is on (no anonymous clients) when there is any way to log in.

    ``per_listener_settings`` stays false, so the password and ACL files apply to every listener.

    ``max_queued_messages``: mosquitto's default (1000 per client) silently drops QoS 1 messages to a slow
    test subscriber, so it is raised. Not to 0 ("no limit") by default: mosquitto 2.0.x ends
    ``handle__publish`` with ``if(context->out_packet_count >= db.config->max_queued_messages) rc =
    MQTT_RC_QUOTA_EXCEEDED;`` for any refused PUBLISH, which with 0 is always true, so a publish denied by
    the ACL also disconnects the client (logged as "Bad socket read/write ... Unknown error"). Later
    versions check ``max_queued_messages > 0`` first.
    """
    lines = [
        f"max_queued_messages {max_queued_messages}",
        "persistence false",
        # started as root, mosquitto would drop to user "mosquitto", who cannot read pytest's private tmp dirs
        f"user {getpass.getuser()}",
        "log_dest stderr",
        "log_type all",
        "connection_messages true",
    ]
    authenticated = password_file is not None or any(lis.use_identity_as_username for lis in listeners)
    lines.append(f"allow_anonymous {'false' if authenticated else 'true'}")
    if password_file is not None:
        lines.append(f"password_file {password_file}")
    if acl_file is not None:
        lines.append(f"acl_file {acl_file}")
    for listener in listeners:
        lines.append(f"\nlistener {listener.port} 127.0.0.1")
        if listener.tls is not None:
            ca_file, server = listener.tls
            lines += [
                f"cafile {ca_file}",
                f"certfile {server.cert}",
                f"keyfile {server.key}",
                "tls_version tlsv1.2",
                f"require_certificate {'true' if listener.require_certificate else 'false'}",
            ]
            if listener.use_identity_as_username:
                lines.append("use_identity_as_username true")
    path = directory / "mosquitto.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_broker(conf: Path, port: int, log: Path | None = None) -> Broker:
    """Start mosquitto with ``conf``; its log goes to ``log`` (default: next to the config) for post-mortems."""
    log = log or conf.with_suffix(".log")
    with open(log, "ab") as sink:
        process = subprocess.Popen([_mosquitto(), "-c", str(conf)], stdout=sink, stderr=subprocess.STDOUT)
    broker = Broker("127.0.0.1", port, process, conf)
    try:
        wait_for_port(port)
    except TimeoutError:
        broker.stop()
        raise AssertionError(f"mosquitto did not start:\n{log.read_text(errors='replace')}") from None
    return broker


__all__ = [
    "CertFiles",
    "Listener",
    "Pki",
    "free_port",
    "make_pki",
    "mosquitto_config",
    "start_broker",
    "write_acl_file",
    "write_password_file",
]
