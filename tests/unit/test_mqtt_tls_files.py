"""A TLS file that cannot be loaded stops start-up with an error naming the setting and the path
(issue 20, defect 4: all three gave the same "cannot load certificates: [Errno 2] ...")."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.schema import MqttSettings
from gateway.delivery.mqtt import MqttPublisher, MqttSetupError
from tests.tlsutil import Pki, make_pki

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def publisher_error(tls: dict[str, str]) -> str:
    settings = MqttSettings.model_validate({"port": 8883, "tls": tls})
    with pytest.raises(MqttSetupError) as raised:
        MqttPublisher(settings, "gw-test", "dockgate/gw-test/status")
    return str(raised.value)


@pytest.mark.parametrize("setting", ["ca_file", "cert_file", "key_file"])
def test_a_missing_tls_file_is_named_by_its_setting_and_path(pki: Pki, tmp_path: Path, setting: str) -> None:
    tls = {"ca_file": str(pki.ca.cert), "cert_file": str(pki.client.cert), "key_file": str(pki.client.key)}
    missing = tmp_path / f"no-such-{setting}.pem"
    tls[setting] = str(missing)
    message = publisher_error(tls)
    assert message.startswith(f"mqtt.tls.{setting}: "), message
    assert str(missing) in message and "No such file or directory" in message
    others = {k: v for k, v in tls.items() if k != setting}
    assert not any(f"mqtt.tls.{k}" in message for k in others), message


@pytest.mark.parametrize("setting", ["ca_file", "cert_file", "key_file"])
def test_a_tls_file_that_is_not_pem_is_named_too(pki: Pki, tmp_path: Path, setting: str) -> None:
    tls = {"ca_file": str(pki.ca.cert), "cert_file": str(pki.client.cert), "key_file": str(pki.client.key)}
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    tls[setting] = str(garbage)
    message = publisher_error(tls)
    assert f"mqtt.tls.{setting}" in message and str(garbage) in message, message


def test_a_key_that_does_not_match_the_certificate_names_both(pki: Pki) -> None:
    message = publisher_error({"cert_file": str(pki.client.cert), "key_file": str(pki.consumer.key)})
    assert "mqtt.tls.cert_file" in message and "mqtt.tls.key_file" in message, message
    assert str(pki.client.cert) in message and str(pki.consumer.key) in message, message
