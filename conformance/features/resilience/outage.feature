@resilience
Feature: Riding out an outage of a target system
  Targets go down: a maintenance window at night, a crash in the middle of the day, a SaaS that
  takes requests and never answers. The integration must queue what it cannot deliver, hold back
  instead of hammering a system that is down, and deliver the backlog - once - when it is back.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-resilience-outage @live
  Scenario: The ERP is down for a maintenance window at night
    Given the ERP is down from 02:00 to 04:00 on day 2
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
    And no labor posting is lost and none is posted twice
    And the ERP catches up within 30 minutes of coming back

  @req-resilience-outage @req-resilience-circuit-breaker
  Scenario: The ERP goes down in the middle of the working day
    Given the ERP is down from 09:00 to 11:00 on day 2
    When the integration under test runs the network
    Then no supply line is lost and none is posted twice
    And no charge is lost and none is posted twice
    And while the ERP is down the integration sends it at most 10 requests a minute
    And the ERP catches up within 30 minutes of coming back

  @req-resilience-outage
  Scenario Outline: A target takes requests and never answers
    Given the <system> hangs without answering from <from> to <to> on day 2
    When the integration under test runs the network
    Then no <records> is lost and none is posted twice
    And the <system> catches up within 30 minutes of coming back

    Examples:
      | system               | from  | to    | records |
      | claims clearinghouse | 10:00 | 12:00 | claim   |
      | ERP                  | 14:00 | 15:00 | charge  |

  @req-resilience-outage @req-resilience-idempotency @slow
  Scenario: A week of three hospitals with a nightly ERP window and lost answers
    Given a network of 3 hospitals with 250 staffed beds each
    And the ERP is down every day from 01:00 to 01:45
    And 5% of the ERP's answers are lost after it committed
    And 3% of the EHR's messages are delivered twice
    When the integration under test runs the network for 7 days
    Then no charge is lost and none is posted twice
    And no supply line is lost and none is posted twice
    And no labor posting is lost and none is posted twice
