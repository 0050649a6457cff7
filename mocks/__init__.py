"""Mock source and target systems: one package per system, state + rules, sans-IO."""
