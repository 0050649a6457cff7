"""``twin load``: Locust against the live stack, SLO verdicts, and the judge after the load."""
