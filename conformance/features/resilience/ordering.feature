@resilience
Feature: Order is kept, whatever the transport does
  A feed whose messages overtake each other must still be processed in the order the EHR wrote
  it, and a claim must never reach the clearinghouse before its journal is posted in the ERP -
  not even when the ERP is slower to answer than the clearinghouse. (A charge the coder adds while
  abstracting the chart leaves the EHR moments before the final coding: overtaken, the encounter
  would be billed without it.)

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-resilience-ordering
  Scenario: A reordered feed is billed in the order the EHR wrote it
    Given 20% of the EHR's messages are overtaken by the next message
    When the integration under test runs the network
    Then no charge carries a wrong value
    And nothing is billed before coding is complete, and no claim goes out before its journal
    And no supply line is lost and none is posted twice

  @req-resilience-ordering @req-discharge-billing-sequencing
  Scenario: A slow ERP does not let a claim overtake its journal
    Given requests to the ERP take about 5 seconds longer
    When the integration under test runs the network
    Then nothing is billed before coding is complete, and no claim goes out before its journal
    And no charge is lost and none is posted twice
