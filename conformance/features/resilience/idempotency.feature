@resilience
Feature: Lost answers and redelivered messages never post twice
  An answer lost on its way back leaves the integration unsure whether the target committed; an
  EHR or a vendor that got no acknowledgement sends the same message again. Either way the
  business document must be posted exactly once.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-resilience-idempotency
  Scenario: The ERP's answers get lost after it committed
    Given 10% of the ERP's answers are lost after it committed
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
    And no supply line is lost and none is posted twice

  @req-resilience-idempotency
  Scenario: The clearinghouse's answers get lost after it accepted the claim
    Given 10% of the claims clearinghouse's answers are lost after it committed
    When the integration under test runs the network
    Then no claim is lost and none is posted twice

  @req-resilience-idempotency @live
  Scenario: The EHR delivers some messages twice
    Given 5% of the EHR's messages are delivered twice
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
    And no charge carries a wrong value
    And no supply line is lost and none is posted twice

  @req-resilience-idempotency @req-usage-inventory-replenishment
  Scenario: The vendor portal delivers some invoices twice
    Given 50% of the vendor's invoices are delivered twice
    When the integration under test runs the network
    Then no vendor invoice is lost and none is posted twice
