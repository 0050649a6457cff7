"""The EHR mock: system of record for patients, encounters, charges and coding.

It publishes HL7 v2.5.1 (ADT, DFT, BAR) and holds the same facts as FHIR R4 resources.
"""
