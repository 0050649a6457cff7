"""SaaS mocks: the claims clearinghouse now; vendor management in a later flow."""
