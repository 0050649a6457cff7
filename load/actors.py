"""The hospital network's actors as Locust users, one class per actor.

Every user finds the stack from the control URL it is given as ``--host`` (``GET /load/targets``:
each system's URL, the integration's MLLP listener and API, the load's OAuth2 client). Every
answer is checked (``catch_response``) and URLs are grouped with ``name=``, so Locust's statistics
read per operation, not per patient.

- ``Hl7FeedUser`` carries the EHR's HL7 feed over MLLP: it leases the world's next message
  (``twin.live.feed``), sends it on its own connection, reads the ACK that answers it (MSA-2 equal
  to the message's MSH-10; a late ACK for an earlier try is set aside), reports the ACK back, and
  fires Locust's request event (type ``MLLP``, name the message type), so MLLP round trips appear
  in the statistics beside the HTTP ones. The messages are the world's own - written by the EHR,
  in the truth - so the integration does real work and the judge can check it afterwards.
- ``ClinicianUser`` reads and searches the FHIR EHR (patients, encounters, charges).
- ``ErpClientUser`` queries finance (journals, receivables) and inventory (issues, stock-outs).
- ``VendorWebhookUser`` pushes the vendor's webhooks again (at-least-once delivery): the
  integration must take each once.
- ``ReportingUser`` runs the month-end queries (GL, statistics, payroll, discharges, KPIs).

Pacing: each user waits ``constant_throughput(PACE[actor])`` between tasks, so an actor's rate is
its users times its pace; the profile (``load/profiles.toml``) sets both, the shape the user count.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from typing import Any

import requests
from hl7.client import MLLPClient
from locust import HttpUser, User, constant_throughput, events, task
from locust.exception import StopUser

from twin.live.mllp_sender import msa_control_id

_targets: dict[str, Any] = {}
PACE = {  # tasks per second per user; the profile may override them (TWIN_LOAD_PACE=actor=rate,...)
    "clinician": 2.0,
    "erp": 1.0,
    "vendor": 0.5,
    "reporting": 0.5,
}
for _item in filter(None, os.environ.get("TWIN_LOAD_PACE", "").split(",")):
    _actor, _, _rate = _item.partition("=")
    PACE[_actor.strip()] = float(_rate)
WEIGHTS = {"clinician": 4, "erp": 2, "vendor": 1, "reporting": 1}
for _item in filter(None, os.environ.get("TWIN_LOAD_WEIGHTS", "").split(",")):
    _actor, _, _weight = _item.partition("=")
    WEIGHTS[_actor.strip()] = int(_weight)
FEED_USERS = int(os.environ.get("TWIN_LOAD_FEED_USERS", "3"))
FRAME_END = b"\x1c\r"


def targets(control: str) -> dict[str, Any]:
    """The stack's addresses and the load's credentials, fetched once per process."""
    if not _targets:
        answer = requests.get(f"{control.rstrip('/')}/load/targets", timeout=10)
        answer.raise_for_status()
        _targets.update(answer.json())
    return _targets


def sim_minute(found: dict[str, Any]) -> float:
    """The run's simulated minute now (windows of the ERP's queries are simulated minutes)."""
    clock = found["clock"]
    return (time.time() - clock["epoch"]) * clock["speed"] / 60


class _Reader(HttpUser):
    """An HTTP user of one system, with a bearer token of the load's client."""

    abstract = True
    system = "erp"

    def on_start(self) -> None:
        found = targets(self.host or "")
        self.found = found
        self.client.base_url = found["systems"][self.system]
        self.token(self.system)

    def token(self, system: str) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.found["client_id"],
            "client_secret": self.found["client_secret"],
        }
        url = f"{self.found['systems'][system]}/oauth/token"
        with self.client.post(url, data=form, name=f"{system.upper()} /oauth/token", catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"token refused: {answer.status_code}")
                raise StopUser()
            self.client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def query(self, path: str, name: str, params: dict[str, Any] | None = None, *, fhir: bool = False) -> Any:
        """GET ``path``; a 200 with the body expected is a success, anything else a failure."""
        with self.client.get(path, params=params, name=name, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                return None
            body = answer.json()
            if fhir and body.get("resourceType") not in ("Bundle", path.strip("/").split("/")[1]):
                answer.failure(f"not a FHIR answer: {body.get('resourceType')!r}")
                return None
            answer.success()
            return body

    def window(self, hours: float) -> dict[str, float]:
        now = sim_minute(self.found)
        return {"posted_from": max(0.0, now - hours * 60), "posted_before": now}


class ClinicianUser(_Reader):
    """A clinician's app on the FHIR EHR: find in-house encounters, open a chart, look at charges."""

    system = "ehr"
    weight = WEIGHTS["clinician"]
    wait_time = constant_throughput(PACE["clinician"])

    @task(3)
    def census(self) -> None:
        hospital = random.choice(self.found["hospitals"])
        bundle = self.query("/fhir/Encounter", "FHIR Encounter?status&service-provider",
                            {"status": "in-progress", "_count": 20, "service-provider": f"Organization/{hospital}"},
                            fhir=True)  # fmt: skip
        entries = (bundle or {}).get("entry") or []
        if entries:
            encounter = random.choice(entries)["resource"]
            self.query(f"/fhir/Encounter/{encounter['id']}", "FHIR Encounter/[id]", fhir=True)
            self.query("/fhir/ChargeItem", "FHIR ChargeItem?context",
                       {"context": f"Encounter/{encounter['id']}", "_count": 50}, fhir=True)  # fmt: skip
            subject = (encounter.get("subject") or {}).get("reference", "")
            if subject.startswith("Patient/"):
                self.query(f"/fhir/{subject}", "FHIR Patient/[id]", fhir=True)

    @task(1)
    def discharged_today(self) -> None:
        self.query("/fhir/Encounter", "FHIR Encounter?status=finished", {"status": "finished", "_count": 20},
                   fhir=True)  # fmt: skip


class ErpClientUser(_Reader):
    """Finance and materials staff's tools on the ERP: journals, receivables, stock issues, stock-outs."""

    system = "erp"
    weight = WEIGHTS["erp"]
    wait_time = constant_throughput(PACE["erp"])

    @task(2)
    def journals(self) -> None:
        self.query("/finance/journals", "ERP /finance/journals", {**self.window(4), "source": "patient-billing"})

    @task(1)
    def receivables(self) -> None:
        self.query("/finance/ar-items", "ERP /finance/ar-items", self.window(24))

    @task(2)
    def inventory_issues(self) -> None:
        self.query("/inventory/issues", "ERP /inventory/issues", self.window(2))

    @task(1)
    def stock_outs(self) -> None:
        self.query("/inventory/stock-outs", "ERP /inventory/stock-outs", self.window(24))


class ReportingUser(_Reader):
    """Month-end reporting: the GL, statistics, payroll, discharged-not-billed, the executive KPIs."""

    system = "erp"
    weight = WEIGHTS["reporting"]
    wait_time = constant_throughput(PACE["reporting"])

    @task(2)
    def general_ledger(self) -> None:
        self.query("/finance/journals", "ERP /finance/journals (month)", self.window(24 * 30))

    @task(1)
    def statistics(self) -> None:
        self.query("/finance/statistics", "ERP /finance/statistics (month)", self.window(24 * 30))

    @task(1)
    def cost_centers(self) -> None:
        self.query("/finance/cost-centers", "ERP /finance/cost-centers")

    @task(1)
    def elsewhere(self) -> None:
        """The other systems' month-end views, each with its own token."""
        for system, path, params in (
            ("hcm", "/payroll/runs", None),
            ("dashboard", "/kpis", None),
            ("ehr", "/reporting/discharges", {"discharged_from": 0, "discharged_before": sim_minute(self.found)}),
        ):
            self.client.base_url = self.found["systems"][system]
            self.token(system)
            self.query(path, f"{system.upper()} {path}", params)
        self.client.base_url = self.found["systems"][self.system]
        self.token(self.system)


class VendorWebhookUser(_Reader):
    """The vendor portal's webhooks, delivered again (at-least-once senders do): taken once or refused."""

    weight = WEIGHTS["vendor"]
    wait_time = constant_throughput(PACE["vendor"])

    def on_start(self) -> None:
        self.found = targets(self.host or "")
        self.client.base_url = self.found["integration"]

    @task
    def redeliver(self) -> None:
        kept = requests.get(f"{(self.host or '').rstrip('/')}/feed/documents", params={"count": 1}, timeout=10)
        for document in kept.json() if kept.status_code == 200 else []:
            source = document["source"]
            with self.client.post(f"/webhooks/{source}", json=document["body"], name=f"webhook {source} (again)",
                                  catch_response=True) as answer:  # fmt: skip
                if answer.status_code >= 500 or answer.status_code in (401, 403, 404):
                    answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                else:
                    answer.success()  # 2xx: taken (and deduplicated), 4xx: refused with a reason


class Hl7FeedUser(User):
    """One MLLP connection carrying the EHR's feed (see the module docstring)."""

    fixed_count = FEED_USERS
    ack_timeout = 10.0  # wall seconds for an ACK; the world resends on its own timeout

    def on_start(self) -> None:
        self.control = (self.host or "").rstrip("/")
        self.found = targets(self.control)
        self.session = requests.Session()
        self.connection: MLLPClient | None = None
        self.buffer = b""

    def on_stop(self) -> None:
        self._close()

    def _close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection, self.buffer = None, b""

    @task
    def carry(self) -> None:
        try:
            answer = self.session.get(f"{self.control}/feed/next", params={"wait": 1.0}, timeout=15)
        except requests.RequestException:
            time.sleep(0.5)  # the stack is stopping
            return
        if answer.status_code != 200:
            return  # nothing to carry now
        lease = answer.json()
        started = time.perf_counter()
        ack: str | None = None
        error: Exception | None = None
        try:
            ack = self._round_trip(lease["payload"], lease["control_id"])
        except (OSError, TimeoutError) as exc:
            error = exc
            self._close()
        elapsed = (time.perf_counter() - started) * 1000
        if ack is not None and error is None:
            code = _ack_code(ack)
            if code not in ("AA", "CA"):
                error = RuntimeError(f"{code}: {lease['message_type']} {lease['control_id']} answered {code}")
        events.request.fire(
            request_type="MLLP",
            name=lease["message_type"],
            response_time=elapsed,
            response_length=len(ack or ""),
            exception=error,
            context={"hospital": lease["hospital"]},
        )
        with contextlib.suppress(requests.RequestException):  # the world resends on its own timeout
            self.session.post(f"{self.control}/feed/leases/{lease['lease']}", json={"ack": ack}, timeout=15)

    def _round_trip(self, payload: str, control_id: str) -> str:
        if self.connection is None:
            mllp = self.found["mllp"]
            self.connection = MLLPClient(mllp["host"], mllp["port"])
            self.connection.socket.settimeout(self.ack_timeout)
        framed = b"\x0b" + payload.encode("utf-8") + FRAME_END
        self.connection.socket.sendall(framed)
        deadline = time.monotonic() + self.ack_timeout
        while True:
            frame = self._frame(deadline)
            if msa_control_id(frame) == control_id:
                return frame
            # an ACK for an earlier try of another message: set aside, keep reading

    def _frame(self, deadline: float) -> str:
        """The next MLLP frame on the connection (python-hl7's client sends; frames are read whole here)."""
        assert self.connection is not None
        while FRAME_END not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no ACK in time")
            chunk = self.connection.socket.recv(4096)
            if not chunk:
                raise ConnectionError("the integration closed the connection")
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(FRAME_END)
        return frame.lstrip(b"\x0b").decode("utf-8", errors="replace")


def _ack_code(ack: str) -> str:
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1] if "|" in segment else ""
    return ""
