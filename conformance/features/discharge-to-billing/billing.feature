@discharge-to-billing
Feature: Discharge to billing
  A patient is discharged, health-information management codes the encounter, and only then may
  finance and the claims clearinghouse see the bill: the revenue journal and the receivable in the
  ERP first, then the claim. Every coded encounter is billed exactly once, to the cent, soon after
  coding completes; an encounter whose coding stalls is surfaced before it becomes revenue leakage.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-discharge-billing-sequencing @live
  Scenario: Nothing is billed before coding is complete, and the claim follows its journal
    When the integration under test runs the network
    Then nothing is billed before coding is complete, and no claim goes out before its journal

  @req-discharge-billing-exactly-once @live
  Scenario: Every coded encounter is billed exactly once
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
    And no charge is invented

  @req-discharge-billing-amounts @live
  Scenario: Journal, receivable and claim carry the encounter's net charges
    When the integration under test runs the network
    Then no journal carries a wrong value
    And no receivable carries a wrong value
    And no claim carries a wrong value

  @req-discharge-billing-late-charges
  Scenario: A charge that reaches billing after the bill went out is billed, not only reported
    Given 40% of the EHR's messages arrive malformed
    And the support team reviews the dead-letter queue every 8 hours
    When the integration under test runs the network
    Then every charge that reaches billing after its bill went out is billed, not only reported
    And no charge is lost and none is posted twice

  @req-discharge-billing-exceptions
  Scenario: Coding that stalls past the deadline is raised as an exception
    Given coding is due within 48 hours of discharge
    When the integration under test runs the network
    Then every encounter still uncoded at the deadline is raised as an exception

  @req-discharge-billing-visibility
  Scenario Outline: Revenue is visible soon after coding completes
    Given the simulation is seeded with <seed>
    When the integration under test runs the network
    Then every charge lands within the allowed lag
    And 95% of claims land within <claims p95>

    Examples:
      | seed     | claims p95 |
      | 20261125 | 5 minutes  |
      | 7        | 5 minutes  |
