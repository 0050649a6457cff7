"""Canonical model shared by the mocks, the integration and the observers.

Nothing here imports anything else of ours, does IO or reads a clock: these are the nouns and
facts every other layer speaks in.
"""
