@master-data
Feature: Master data governance
  Providers, departments, locations, items, vendors and cost centers differ between systems. The
  integration owns a governed crosswalk: a code it cannot map is an exception naming the code set
  and the code - never a guess, never a silent drop - and once a data steward publishes the fix,
  the parked work is posted exactly once to the governed codes.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-master-data-exceptions
  Scenario: A supply item missing from the ERP item master is raised, not dropped
    Given the ERP item master lacks one supply item the EHR documents
    When the integration under test runs the network
    Then every master-data problem is raised as an exception naming the code set and code
    And no supply line is lost and none is posted twice

  @req-master-data-exceptions @req-master-data-replay
  Scenario: A cost center retired in the ERP is raised, fixed by the steward and replayed once
    Given finance retires the respiratory cost center of hospital 1 on day 2
    And the data steward publishes a fix about 6 hours after an exception is raised
    When the integration under test runs the network
    Then every master-data problem is raised as an exception naming the code set and code
    And every master-data exception is resolved by the end
    And the parked work is posted exactly once to the governed codes

  @req-master-data-onboarding
  Scenario: An acquired hospital with a legacy HL7 v2.3 feed is onboarded without code changes
    Given the network acquires a hospital on day 2 whose EHR speaks HL7 v2.3
    When the integration under test runs the network for 3 days
    Then every target system holds what really happened

  @req-master-data-exceptions @req-master-data-replay
  Scenario: A department code nobody has governed yet is raised, mapped and replayed
    Given 5% of the EHR's charge messages name a department code nobody has governed yet
    When the integration under test runs the network
    Then every master-data problem is raised as an exception naming the code set and code
    And every master-data exception is resolved by the end
    And the parked work is posted exactly once to the governed codes
