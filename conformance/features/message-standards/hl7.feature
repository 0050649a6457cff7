@message-standards
Feature: HL7 v2 acknowledgements
  The EHR sends HL7 v2.5.1 over a stop-and-wait channel: it needs an acknowledgement for every
  message, one it can match to the message it sent (it echoes the control id), that says AA only when
  the message was accepted, and AE or AR with an ERR segment naming the problem when it was not.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-standards-hl7-ack @live
  Scenario: Every message is acknowledged, and the acknowledgement echoes its control id
    When the integration under test runs the network
    Then every message the EHR sent is acknowledged, and every well-formed one with AA
    And every acknowledgement echoes the control id of the message it answers
    And every acknowledgement is a valid HL7 v2 ACK

  @req-standards-hl7-ack @req-master-data-onboarding
  Scenario: A legacy HL7 v2.3 feed is acknowledged like any other
    Given the network acquires a hospital on day 2 whose EHR speaks HL7 v2.3
    When the integration under test runs the network for 3 days
    Then every message the EHR sent is acknowledged, and every well-formed one with AA
    And every acknowledgement echoes the control id of the message it answers

  @req-standards-hl7-error-contract
  Scenario: A malformed message is answered AE or AR with an ERR segment
    Given 3% of the EHR's messages arrive malformed
    When the integration under test runs the network
    Then every malformed message is answered AE or AR with an ERR segment
    And every message the EHR sent is acknowledged, and every well-formed one with AA
