"""HCM mock: staff, shift schedules, time punches, timecards and biweekly payroll (sans-IO)."""
