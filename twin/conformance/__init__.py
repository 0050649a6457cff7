"""The conformance kit: executable scenarios in the brief's language, run against an integration.

What Inferno is for FHIR servers, this is for ERP-EHR integrations. Feature files
(``conformance/features/<area>/*.feature``, or any folder) use the shared step library
(``twin.conformance.steps``); the runner (``twin.conformance.runner``, ``twin conform``) binds
them with pytest-bdd, runs each against the integration under test (the reference integration or
a user's ``package.module:factory``) in simulated time, and reports every verdict with its
evidence and the requirement it traces to (``twin.conformance.requirements``).
"""
