@discharge-to-billing
Feature: Registration corrects itself, and the bill follows
  A real ADT feed is more than admissions, transfers and discharges. Emergency and outpatient
  visits are registered (A04), registrars correct a visit's insurance while the patient is in
  house (A08), cancel a registration, a transfer or a discharge entered in error (A11, A12, A13),
  and health-information management merges a duplicate medical record into the patient's older
  one (A40). Each correction decides something about the bill: whether there is one, to which
  payer, under which record, for which discharge, on which claim type.

  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-adt-coverage-update
  Scenario: A visit whose insurance changed bills the payer current at coding
    Given 30% of visits have their insurance corrected during the visit
    When the integration under test runs the network
    Then every claim goes to the payer of the coverage current at coding
    And no receivable carries a wrong value

  @req-adt-cancellations
  Scenario: A registration cancelled as entered in error never bills
    Given 10% of registrations are cancelled as entered in error
    When the integration under test runs the network
    Then no cancelled registration is billed
    And no claim is invented

  @req-adt-cancellations
  Scenario: A cancelled discharge is not the discharge the claim bills, and a cancelled transfer changes nothing billed
    Given 20% of discharges are cancelled as entered in error
    And 30% of transfers are cancelled as entered in error
    When the integration under test runs the network
    Then every claim bills the discharge that counted, not a cancelled one
    And no charge is lost and none is posted twice
    And every message the EHR sent is acknowledged, and every well-formed one with AA

  @req-adt-merge
  Scenario: A visit registered under a duplicate record bills under the surviving one
    Given 20% of visits are registered under a duplicate medical record number
    When the integration under test runs the network
    Then every claim of a merged patient names the surviving record

  @req-adt-encounter-types @live
  Scenario: Emergency and outpatient visits are billed on professional claims, stays on institutional ones
    When the integration under test runs the network
    Then every emergency and outpatient visit is billed on a professional claim
    And no claim carries a wrong value

  @req-adt-claim-rejection
  Scenario: A claim the payer rejects for a mistyped member id is raised, corrected by a biller and billed
    Given 20% of member ids are mistyped at registration
    When the integration under test runs the network
    Then every claim the payer rejected is raised and billed once registration corrected it
    And no claim carries a wrong value
