@labor-cost
Feature: Labor cost allocation
  Scheduling, time clock, payroll and the general ledger use different hierarchies. The scheduled
  labor sync, validated against the ERP's cost centers, must tie labor cost to patient care:
  per cost center and work date hours times rates, with the patient days that make labor cost per
  patient day computable from the ERP alone.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-labor-cost-allocation @live
  Scenario: Labor cost per cost center equals hours times rates
    When the integration under test runs the network
    Then the labor cost of every cost center equals hours times rates
    And no labor cost is posted twice

  @req-labor-scheduled-sync
  Scenario Outline: The nightly sync posts every closed work date on time
    Given the nightly labor sync runs at <sync time>
    When the integration under test runs the network
    Then no labor posting is lost and none is posted twice
    And every labor posting lands within the allowed lag
    And no patient-day statistic carries a wrong value

    Examples:
      | sync time |
      | 02:00     |
      | 04:30     |
