"""The ERP mock: finance (GL, AR) now; supply chain and payables in later flows."""
