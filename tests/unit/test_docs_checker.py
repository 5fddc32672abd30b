"""The checker of the docs' blocks (tests/docchecks.py) and names (tests/docnames.py) fails on purpose: each
kind fed a broken block reports it, naming the doc, the line and what is wrong; so does a wrong name. Without
this, a check that passes everything looks the same as docs that hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docblocks import REPO, Block, blocks
from tests.docchecks import problems
from tests.docnames import name_problems

pytestmark = pytest.mark.timeout(60)


def one_block(tmp_path: Path, info: str, text: str, before: str = "") -> Block:
    """The block of a doc made for the test: ``before`` (other blocks), then a fence ``info`` around ``text``."""
    doc = tmp_path / "broken.md"
    doc.write_text(f"{before}\nSome prose.\n\n```{info}\n{text}```\n", encoding="utf-8")
    return blocks(doc)[-1]


def reported(block: Block, *needles: str) -> None:
    found = "\n".join(problems(block))
    assert found, f"nothing reported of the broken block {block.info!r}:\n{block.text}"
    assert "broken.md:" in found, found
    for needle in needles:
        assert needle in found, found


def test_a_bad_key_in_the_readme_config_is_reported(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "  depart_after: 5s" in readme
    doc = tmp_path / "broken.md"
    doc.write_text(readme.replace("  depart_after: 5s", "  depart_afterr: 5s", 1), encoding="utf-8")
    (block,) = [b for b in blocks(doc) if b.kind == "yaml dockgate"]
    reported(block, "pipeline.depart_afterr: unknown key")


def test_a_bad_key_in_a_part_of_a_config_is_reported(tmp_path: Path) -> None:
    block = one_block(tmp_path, "yaml dockgate-part", "mqtt:\n  hostname: broker.example\n")
    reported(block, "mqtt.hostname")


def test_a_config_the_doc_says_is_refused_but_is_not_is_reported(tmp_path: Path) -> None:
    readme_config = next(b for b in blocks(REPO / "README.md") if b.kind == "yaml dockgate")
    block = one_block(tmp_path, "yaml dockgate-invalid file=bad.yaml", readme_config.text)
    reported(block, "check-config accepts it")


def test_an_output_that_is_not_the_real_one_is_reported(tmp_path: Path) -> None:
    bad = "```yaml dockgate-invalid file=bad.yaml\ngateway: {id: gw}\nreaders: []\nlocations: []\n```\n"
    block = one_block(
        tmp_path,
        "text output",
        "$ dockgate check-config bad.yaml\nbad.yaml: invalid configuration (9 problem(s)):\n",
        bad,
    )
    reported(block, "prints something else", "(2 problem(s))")


def test_a_trailing_comment_in_a_mosquitto_file_is_reported(tmp_path: Path) -> None:
    text = "# /etc/mosquitto/conf.d/dockgate.conf\npassword_file /etc/mosquitto/passwd   # mosquitto_passwd -c ...\n"
    reported(one_block(tmp_path, "conf mosquitto", text), "put the comment on a line of its own")


def test_an_acl_rule_for_a_topic_the_gateway_never_uses_is_reported(tmp_path: Path) -> None:
    text = "# /etc/mosquitto/acl\nuser acme\ntopic read dockgate/+/owner/acme/#\n"
    reported(one_block(tmp_path, "conf mosquitto-acl", text), "no topic of the gateway matches it")


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        ("dockgate check-config --strict config/example.yaml", "--strict is not in `dockgate check-config --help`"),
        ("python -m gateway run --config x.yaml --verbose", "--verbose is not in `dockgate run --help`"),
        ("dockgate journal verify --evnts capture.txt", "--evnts"),
        ("dockgate bench everything", "everything is not a subcommand of `dockgate bench`"),
        ("dockgate simulate llrp --antenas 8", "--antenas is not in `dockgate simulate llrp --help`"),
        ("dockgate simulate scanner --pty --baud 9600", "--baud"),
        ("mosquitto_pub -t dockgate/x --retained -m hi", "--retained"),
        ("curl -s 127.0.0.1:9108/api/v1/shipmints", "/api/v1/shipmints is not a path of docs/openapi.yaml"),
        ("python -m gateway.bench.nothing_here", "no such module"),
        ("./scripts/nothing-here", "no such executable"),
        ("echo 'unclosed", "bash -n"),
    ],
)
def test_a_shell_command_that_cannot_work_is_reported(tmp_path: Path, command: str, needle: str) -> None:
    reported(one_block(tmp_path, "sh", f"{command}   # a comment\n"), needle)


def test_a_config_of_the_repository_that_check_config_refuses_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("gateway: {id: gw}\n")
    # a file outside the repository (/etc/dockgate/dockgate.yaml, here a temp file) is not run; one inside it is
    assert problems(one_block(tmp_path, "sh", f"dockgate check-config {bad}\n")) == []
    reported(one_block(tmp_path, "sh", "dockgate check-config pyproject.toml\n"), "exits 2")


def test_an_invalid_event_is_reported(tmp_path: Path) -> None:
    readme_event = next(b for b in blocks(REPO / "README.md") if b.kind == "json event")
    broken = readme_event.text.replace('"seq":7,', "").replace('"departed"', '"gone"')
    reported(one_block(tmp_path, "json event", broken), "'seq' is a required property", "'gone'")


def test_an_invalid_epcis_document_is_reported(tmp_path: Path) -> None:
    text = '{"type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": [{"type": "Nothing"}]}}\n'
    reported(one_block(tmp_path, "json epcis", text), "not a valid EPCIS 2.0 document")


def test_a_shipment_command_the_gateway_refuses_is_reported(tmp_path: Path) -> None:
    reported(one_block(tmp_path, "json shipment-commands", '{"command": "ship", "id": "ASN-7"}\n'), "'ship'")


def test_a_truth_without_its_times_is_reported(tmp_path: Path) -> None:
    reported(
        one_block(tmp_path, "yaml accuracy-truth", "- {epcs: [3034257BF7194E4000001A85], location: dock-3}\n"),
        "'start'",
    )


def test_a_bad_prometheus_config_is_reported(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: dockgate\n    scrape_intervall: 15s\n"
    reported(one_block(tmp_path, "yaml prometheus", text), "scrape_intervall")


def test_a_query_promtool_cannot_parse_is_reported(tmp_path: Path) -> None:
    reported(one_block(tmp_path, "promql", "rate(dockgate_reads_total[5m]\n"), "promtool")
    reported(one_block(tmp_path, "promql", "rate(dockgate_read_total[5m])\n"), "dockgate_read_total is no metric")


def test_a_unit_line_that_is_not_in_the_service_is_reported(tmp_path: Path) -> None:
    text = "[Service]\nLoadCredential=mqtt-password:/etc/dockgate/credentials/mqtt-pass\n"
    reported(one_block(tmp_path, "ini systemd", text), "is not in [Service] of systemd/dockgate.service")


def test_a_python_example_with_an_undefined_name_is_reported(tmp_path: Path) -> None:
    reported(one_block(tmp_path, "python", "import json\nhandle(json.loads('{}'))\n"), "F821")


def test_a_topic_the_gateway_never_publishes_on_is_reported(tmp_path: Path) -> None:
    reported(one_block(tmp_path, "text topic", "dockgate/+/event/#\n"), "matches no topic")
    reported(one_block(tmp_path, "text topic", "dockgate/#/events\n"), "'#' must be a whole level, the last")


def test_a_log_line_the_code_does_not_write_is_reported(tmp_path: Path) -> None:
    text = 'level=warning logger=gateway.delivery.mqtt event=tls_check_off mqtt=10.0.0.5:8883 detail="..."\n'
    reported(one_block(tmp_path, "text log", text), "logs no event=tls_check_off")
    text = 'level=error logger=gateway.delivery.mqtt event=tls_verification_off mqtt=10.0.0.5:8883 detail="..."\n'
    reported(one_block(tmp_path, "text log", text), "the gateway writes")


def test_a_message_with_a_member_its_schema_has_not_is_reported(tmp_path: Path) -> None:
    text = 'dockgate/gw-dock-3/doors/dock-3/status {"location":"dock-3","state":"ajar",...,"colour":"red"}\n'
    reported(one_block(tmp_path, "text mqtt", text), "colour: not a member of doorStatus", "state: 'ajar'")


def test_a_cookie_the_api_does_not_set_is_reported(tmp_path: Path) -> None:
    text = "Set-Cookie: dockgate_session=<value>; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax\n"
    reported(one_block(tmp_path, "text header", text), "a login sets")


def test_a_block_of_no_known_kind_is_reported(tmp_path: Path) -> None:
    reported(one_block(tmp_path, "yaml", "a: 1\n"), "is not one of the kinds")


@pytest.mark.parametrize(
    ("prose", "needle"),
    [
        ("Set `mqtt.tls.keyfile` to the key.", "mqtt.tls.keyfile is not a setting"),
        ("Each reader's `readers[0].gpi.pin`.", "readers[0].gpi.pin is not a setting"),
        ("Watch `dockgate_outbox_pending` in Prometheus.", "dockgate_outbox_pending is no metric"),
        ("Run `dockgate journal verify --event capture.txt`.", "--event is not in `dockgate journal verify --help`"),
        ("Run `dockgate jounral verify`.", "jounral is not a subcommand of `dockgate`"),
        ("Start it with `--log-fmt json`.", "--log-fmt is the flag of no dockgate command"),
        ("Doors on `{prefix}/{gateway}/door/{location}/status`.", "no topic of the gateway matches it"),
        ("The alert DockgateReaderGone fires.", "DockgateReaderGone is no alert"),
    ],
)
def test_a_name_that_does_not_exist_is_reported(tmp_path: Path, prose: str, needle: str) -> None:
    found = "\n".join(name_problems(tmp_path / "broken.md", prose))
    assert needle in found, found


def test_a_diagram_with_a_name_the_code_has_not_is_reported(tmp_path: Path) -> None:
    reported(one_block(tmp_path, "text diagram", "ReadIngress --> EventRouter --> MqttPublisher\n"), "EventRouter")
    reported(one_block(tmp_path, "text diagram", "-> START_ROSPEC -> BEGIN_ROSPEC\n"), "BEGIN_ROSPEC is no message")


def test_a_state_diagram_that_is_not_the_schema_s_is_reported(tmp_path: Path) -> None:
    text = "open --(load)--> loading --(close)--> verified | exception | done\n"
    reported(one_block(tmp_path, "text diagram states=shipmentView", text), "(load) is no shipment command", "'done'")
