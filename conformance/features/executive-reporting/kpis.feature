@executive-reporting
Feature: Executive reporting
  Executives see KPIs computed from the systems of record - DNFB and days to bill, stock-outs and
  stock accuracy, supply cost per case, labor cost per patient day. Each must agree with what
  really happened and carry its lineage back to the source records behind it.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-executive-kpi-consistency @live
  Scenario: Every KPI on the dashboard agrees with the systems of record, on time
    When the integration under test runs the network
    Then every KPI on the dashboard agrees with the truth
    And every KPI lands within the allowed lag

  @req-executive-kpi-lineage
  Scenario: Every KPI traces back to exactly the source records behind it
    Given storerooms cycle-count 6 item-locations each night
    When the integration under test runs the network
    Then every KPI's lineage names exactly the source records behind it
    And no KPI is invented
