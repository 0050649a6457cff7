@discharge-to-billing @patterns
Feature: The right synchronization pattern per workflow
  The brief recommends a hybrid architecture: time-critical flows - discharge-triggered billing,
  supply consumption - in near real time; what is not time-critical in a nightly batch. Whatever
  the design, the time-critical flows must stay within their allowed lag.

  @req-pattern-per-workflow
  Scenario: A hybrid design keeps billing and supply usage in real time
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity
    And the hybrid integration design
    When the integration under test runs the network
    Then every charge lands within the allowed lag
    And every supply line lands within the allowed lag
    And no vendor invoice is lost and none is posted twice
