@message-standards
Feature: FHIR R4 resources the integration sends
  Claims go to the clearinghouse as FHIR R4 Claim resources; the clearinghouse scrubs them, but
  a claim that is not valid FHIR at all is a broken interface contract.

  @req-standards-fhir-claim
  Scenario: Every claim sent to the clearinghouse is a valid FHIR R4 Claim
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity
    When the integration under test runs the network
    Then every claim the integration submits is a valid FHIR R4 Claim
    And no claim carries a wrong value
