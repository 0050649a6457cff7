"""The reference integration (sans-IO) and the contract every integration under test implements."""
