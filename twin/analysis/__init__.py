"""Analysis on top of the simulated driver: design comparisons, runs as tables, sweeps, reports.

What architects use from notebooks and scripts (``twin.api`` is the public face: ``twin.run``,
``twin.compare``, ``twin.sweep``). Everything here sits on top of the drivers and the judge, and
decides nothing about pass or fail: it runs scenarios, measures them and lays the figures out.
"""
