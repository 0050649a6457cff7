"""Locustfile of the `census` profile: the network's actors (``actors``) under ``shapes.CensusShape``.

Run it with ``twin load --profile census``, or with Locust itself against a running ``twin serve --load``:
``locust -f load/census.py --host CONTROL_URL``.
"""

from actors import ClinicianUser, ErpClientUser, Hl7FeedUser, ReportingUser, VendorWebhookUser
from shapes import CensusShape

__all__ = ["ClinicianUser", "ErpClientUser", "Hl7FeedUser", "ReportingUser", "VendorWebhookUser", "CensusShape"]
