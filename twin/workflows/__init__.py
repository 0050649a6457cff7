"""SimPy processes that make things happen: patient flow now; perioperative, staffing, close later.

Workflows know what really happens and report it through a ``happen`` callback (the driver
appends it to the truth ledger and hands it to the EHR); they never see interface messages.
"""
