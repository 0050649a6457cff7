"""Locustfile of the `discharge-surge` profile: the network's actors (``actors``) under ``shapes.DischargeSurgeShape``.

Run it with ``twin load --profile discharge-surge``, or with Locust itself against a running ``twin serve --load``:
``locust -f load/discharge_surge.py --host CONTROL_URL``.
"""

from actors import ClinicianUser, ErpClientUser, Hl7FeedUser, ReportingUser, VendorWebhookUser
from shapes import DischargeSurgeShape

__all__ = ["ClinicianUser", "ErpClientUser", "Hl7FeedUser", "ReportingUser", "VendorWebhookUser", "DischargeSurgeShape"]
