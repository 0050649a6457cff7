@resilience
Feature: Poison messages, the dead-letter queue and replay
  What the integration cannot process is never dropped: it is parked in the dead-letter queue
  with the reason, a person repairs it (the sender supplies it again as it should have been),
  and the replay posts it exactly once.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity
    And the support team reviews the dead-letter queue every 4 hours

  @req-resilience-dead-letter @req-resilience-replay @live
  Scenario: Malformed HL7 messages are parked with their reason, repaired and replayed once
    Given 2% of the EHR's messages arrive malformed
    When the integration under test runs the network
    Then every malformed message is parked in the dead-letter queue with a reason
    And no charge is lost and none is posted twice
    And no supply line is lost and none is posted twice
    And the dead-letter queue is empty at the end

  @req-resilience-schema-drift @req-resilience-dead-letter @req-resilience-replay
  Scenario: The vendor changes its invoice schema without notice
    Given the vendor portal changes its invoice schema from day 1
    When the integration under test runs the network
    Then every drifted invoice is parked in the dead-letter queue with a reason
    And no vendor invoice is lost and none is posted twice
    And the dead-letter queue is empty at the end
