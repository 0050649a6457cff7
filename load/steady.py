"""Locustfile of the `steady` profile: the network's actors (``actors``) under ``shapes.SteadyShape``.

Run it with ``twin load --profile steady``, or with Locust itself against a running ``twin serve --load``:
``locust -f load/steady.py --host CONTROL_URL``.
"""

from actors import ClinicianUser, ErpClientUser, Hl7FeedUser, ReportingUser, VendorWebhookUser
from shapes import SteadyShape

__all__ = ["ClinicianUser", "ErpClientUser", "Hl7FeedUser", "ReportingUser", "VendorWebhookUser", "SteadyShape"]
