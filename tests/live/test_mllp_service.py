"""The integration service over real MLLP: the service runs as a child process (127.0.0.1, free
ports) and python-hl7's ``MLLPClient`` - a client nobody here wrote - sends it other systems'
dialects (``tests/hl7_dialects/``), malformed input and resends.

Every message gets an ACK echoing its MSH-10; nothing a sender writes drops the connection (a valid
message right after on the same connection still gets AA); what the service cannot read is in its
dead-letter queue with the reason; a resend is answered with the first ACK, from the service's own
store, without reaching the integration again; every ACK is counted in the latency histogram.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from hl7.client import MLLPClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import small_scenario
from tests.test_hl7_dialects import ACCEPTED, CORPUS, LACKING, ack_fields
from twin.domain.hl7 import unescape
from twin.live.clock import LiveClock
from twin.live.service.service import ServiceConfig

START, END = b"\x0b", b"\x1c\r"
TIMEOUT = 10.0  # seconds any answer may take before the test calls it lost
# A valid charge message of the corpus, sent again under new control ids as "the next valid message".
VALID = next(m.text for m in CORPUS if m.control_id == "ESC-P03-0001")


class Service(NamedTuple):
    host: str
    port: int
    http: str

    def client(self) -> MLLPClient:
        client = MLLPClient(self.host, self.port)
        client.socket.settimeout(TIMEOUT)
        return client

    def get(self, path: str) -> Any:
        response = httpx.get(self.http + path, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json() if path != "/metrics" else response.text


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """``python -m twin.live.service`` on a fresh SQLite file, its clock already running (epoch now),
    no target systems (these tests need ACKs only); terminated when the module is done."""
    folder = tmp_path_factory.mktemp("mllp-service")
    clock = LiveClock.starting_now(speed=60)
    config = ServiceConfig(
        scenario=small_scenario(days=0.5).model_dump(mode="json"),
        epoch=clock.epoch,
        speed=clock.speed,
        db=str(folder / "service.sqlite"),
        targets={},
        client_secret="s",
    )
    config.write(folder / "service.json")
    log = (folder / "service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "twin.live.service", str(folder / "service.json")], stdout=subprocess.PIPE, stderr=log
    )
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if readable else b""
        if not line:
            pytest.fail(f"the service did not start: {(folder / 'service.log').read_text(errors='replace')[-2000:]}")
        ready = json.loads(line)
        host, port = ready["mllp"].removeprefix("mllp://").rsplit(":", 1)
        assert host == "127.0.0.1"
        yield Service(host, int(port), ready["http"])
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _send(client: MLLPClient, payload: bytes | str) -> bytes:
    """Send one message (python-hl7 frames it) and read its whole ACK block."""
    raw: bytes = client.send_message(payload)
    while not raw.endswith(END):
        more = client.socket.recv(4096)
        assert more, f"the service closed the connection (received {raw!r})"
        raw += more
    assert raw.startswith(START)
    return raw


def _fields(block: bytes) -> dict[str, list[str]]:
    return ack_fields(block[len(START) : -len(END)].decode("utf-8"))


def _exchange(client: MLLPClient, payload: bytes | str) -> dict[str, list[str]]:
    return _fields(_send(client, payload))


def _with_control_id(text: str, control_id: str) -> str:
    msh, rest = text.split("\r", 1)
    fields = msh.split("|")
    fields[9] = control_id
    return "|".join(fields) + "\r" + rest


def _assert_valid_still_accepted(client: MLLPClient, control_id: str) -> None:
    ack = _exchange(client, _with_control_id(VALID, control_id))
    assert ack["MSA"][1:3] == ["AA", control_id], ack


def _as_the_service_reads(raw: bytes) -> str:
    """The text the service takes a block for (its documented decoding: UTF-8, else Latin-1)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _letters(service: Service) -> list[dict[str, Any]]:
    return [letter for letter in service.get("/dead-letters") if letter["channel"] == "hl7"]


def test_every_dialect_message_is_acknowledged_over_mllp(service: Service) -> None:
    with service.client() as client:
        for message in CORPUS:  # the bytes as the file holds them: the Latin-1 one as Latin-1
            ack = _exchange(client, message.text.encode(message.encoding))
            assert ack["MSA"][2] == message.control_id, ack
            if message.control_id in ACCEPTED:
                assert ack["MSA"][1] == "AA" and "ERR" not in ack, (message.file, ack)
                continue
            location, field = LACKING[message.control_id]
            assert ack["MSA"][1] == "AE" and ack["ERR"][2] == location, (message.file, ack)
            assert field in unescape(ack["ERR"][8])
    letters = {letter["message_id"]: letter for letter in _letters(service)}
    for control_id, (_, field) in LACKING.items():
        assert field in letters[control_id]["reason"]
    assert not set(letters) & set(ACCEPTED), "an accepted message is in the dead-letter queue"


class Malformed(NamedTuple):
    name: str
    raw: bytes
    control_id: str  # MSH-10 as the service can read it ("" when it cannot)
    code: str  # AE or AR
    location: str  # ERR-2


MALFORMED = [
    Malformed("not HL7 at all", b"this is not an HL7 message, just text", "", "AR", "MSH"),
    Malformed(
        "MSH with a wrong field separator",
        _with_control_id(VALID, "BAD-SEP").replace("|", "#").encode(),
        "BAD-SEP",
        "AR",
        "MSH^1^2",
    ),
    Malformed(
        "truncated inside PV1, before the visit number",
        _with_control_id(VALID, "BAD-CUT").split("V105^^^H01^VN")[0].encode(),
        "BAD-CUT",
        "AE",
        "PV1^1^19",
    ),
    Malformed(
        "not UTF-8: the whole message in UTF-16 with a byte-order mark",
        ("\ufeff" + _with_control_id(VALID, "BAD-UTF16")).encode("utf-16-le"),
        "",
        "AR",
        "MSH^1^18",  # the bytes are not the character set the message declares (none: UTF-8)
    ),
    Malformed(
        "not UTF-8: a Windows-1252 euro sign in the amount",
        _with_control_id(VALID, "BAD-CP1252").replace("|12.50|12.50|", "|\u20ac12.50|12.50|").encode("cp1252"),
        "BAD-CP1252",
        "AR",
        "MSH^1^18",
    ),
]


def test_malformed_messages_get_a_nak_and_the_connection_lives_on(service: Service) -> None:
    assert b"\x80" in MALFORMED[-1].raw and b"|\x8012.50|" in MALFORMED[-1].raw  # the byte UTF-8 cannot start with
    with service.client() as client:
        for number, case in enumerate(MALFORMED):
            ack = _exchange(client, case.raw)
            assert ack["MSA"][1] == case.code and ack["MSA"][2] == case.control_id, (case.name, ack)
            assert ack["ERR"][2] == case.location and ack["ERR"][8], (case.name, ack["ERR"])
            _assert_valid_still_accepted(client, f"AFTER-BAD-{number}")
    letters = _letters(service)
    for case in MALFORMED:
        text = _as_the_service_reads(case.raw)
        found = [letter for letter in letters if letter["payload"] == text]
        assert len(found) == 1, (case.name, len(found))
        assert found[0]["message_id"] == case.control_id and found[0]["reason"].strip(), found[0]


def _raw_exchange(sock: socket.socket, block: bytes) -> dict[str, list[str]]:
    sock.sendall(block)
    raw = b""
    while not raw.endswith(END):
        more = sock.recv(4096)
        assert more, f"the service closed the connection (received {raw!r})"
        raw += more
    return _fields(raw)


def test_blocks_without_the_start_character(service: Service) -> None:
    """A raw socket (python-hl7 always frames): a block without <VT> is still read as a message, as
    the listener documents, so a complete message in one is acknowledged and one missing its first
    bytes as well is rejected and dead-lettered; the connection lives on through both."""
    lost_start = _with_control_id(VALID, "NOVT-CUT").encode()[2:]  # "H|^~\&|...": the VT and "MS" lost
    with socket.create_connection((service.host, service.port), timeout=TIMEOUT) as sock:
        ack = _raw_exchange(sock, lost_start + END)
        assert ack["MSA"][1] == "AR" and ack["MSA"][2] == "" and ack["ERR"][2] == "MSH", ack
        ack = _raw_exchange(sock, _with_control_id(VALID, "NOVT-WHOLE").encode() + END)
        assert ack["MSA"][1:3] == ["AA", "NOVT-WHOLE"], ack
        ack = _raw_exchange(sock, START + _with_control_id(VALID, "NOVT-AFTER").encode() + END)
        assert ack["MSA"][1:3] == ["AA", "NOVT-AFTER"], ack
    found = [letter for letter in _letters(service) if letter["payload"] == lost_start.decode()]
    assert len(found) == 1 and "MSH" in found[0]["reason"], found


def test_a_resend_gets_the_first_ack_and_is_not_processed_twice(service: Service) -> None:
    """A sender that lost the ACK reconnects and sends again (same MSH-4 and MSH-10): it gets the ACK
    it missed, byte for byte (a new one would carry a later MSH-7: the clock runs 60x), and the
    integration never sees the message again (its duplicate counter does not move); a rejected
    message sent twice is one dead letter, not two."""
    valid = _with_control_id(VALID, "RESEND-OK")
    broken = _with_control_id(VALID, "RESEND-BAD").replace("|CG|", "|XX|")  # FT1-6 neither CG nor CD
    with service.client() as client:
        first = [_send(client, valid), _send(client, broken)]
    status = service.get("/status")
    time.sleep(0.2)  # 12 simulated seconds: an ACK made anew would differ
    with service.client() as client:
        again = [_send(client, valid), _send(client, broken)]
    assert again == first
    assert _fields(first[0])["MSA"][1:3] == ["AA", "RESEND-OK"]
    assert _fields(first[1])["MSA"][1:3] == ["AE", "RESEND-BAD"]
    assert service.get("/status")["health"]["duplicates_ignored"] == status["health"]["duplicates_ignored"]
    assert [letter["message_id"] for letter in _letters(service)].count("RESEND-BAD") == 1


def _ack_latency(service: Service) -> tuple[float, float, float]:
    """The ACK latency histogram as (count, +Inf bucket, sum)."""
    for family in text_string_to_metric_families(service.get("/metrics")):
        if family.name == "twin_ack_latency_seconds":
            values = {(s.name, s.labels.get("le")): s.value for s in family.samples}
            return (
                values[("twin_ack_latency_seconds_count", None)],
                values[("twin_ack_latency_seconds_bucket", "+Inf")],
                values[("twin_ack_latency_seconds_sum", None)],
            )
    raise AssertionError("no twin_ack_latency_seconds histogram in /metrics")


def test_metrics_count_every_ack(service: Service) -> None:
    count, _, total = _ack_latency(service)
    with service.client() as client:
        _assert_valid_still_accepted(client, "METRICS-1")
        _assert_valid_still_accepted(client, "METRICS-1")  # a resend is acknowledged, so counted
        _exchange(client, b"not hl7")
    deadline = time.monotonic() + 2  # observed right after the ACK is written: allow the loop a turn
    while _ack_latency(service)[0] < count + 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    after, inf, after_total = _ack_latency(service)
    assert after == count + 3 and inf == after
    assert after_total > total
