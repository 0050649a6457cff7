"""Locustfile of the `month-end-close` profile: the network's actors (``actors``) under ``shapes.MonthEndCloseShape``.

Run it with ``twin load --profile month-end-close``, or with Locust itself against a running ``twin serve --load``:
``locust -f load/month_end_close.py --host CONTROL_URL``.
"""

from actors import ClinicianUser, ErpClientUser, Hl7FeedUser, ReportingUser, VendorWebhookUser
from shapes import MonthEndCloseShape

__all__ = ["ClinicianUser", "ErpClientUser", "Hl7FeedUser", "ReportingUser", "VendorWebhookUser", "MonthEndCloseShape"]
