@resilience
Feature: Retry discipline
  Transient failures - throttling, server errors, timeouts - are retried until they succeed,
  with backoff, never sooner than the target asked (Retry-After), and never posting twice.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-resilience-retry-policy
  Scenario: The ERP throttles requests and asks to come back later
    Given the ERP throttles 20% of requests, asking to retry after 30 seconds
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
    And no supply line is lost and none is posted twice
    And the integration never calls the ERP again before its Retry-After

  @req-resilience-retry-policy
  Scenario Outline: Server errors are retried until they succeed
    Given 5% of requests to the <system> fail with status <status>
    When the integration under test runs the network
    Then no <records> is lost and none is posted twice

    Examples:
      | system               | status | records |
      | claims clearinghouse | 503    | claim   |
      | ERP                  | 500    | charge  |

  @req-resilience-retry-policy @req-resilience-idempotency
  Scenario: Requests that time out are retried without posting twice
    Given 5% of requests to the ERP time out
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
    And no supply line is lost and none is posted twice

  @req-resilience-token-refresh
  Scenario: The ERP revokes its access tokens every few hours
    Given the ERP revokes its access tokens every 4 hours
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
    And no supply line is lost and none is posted twice
