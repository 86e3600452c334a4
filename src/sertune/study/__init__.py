"""The search over Θ x repetitions: ``store`` (what a study holds), ``strategies``, ``replay`` and ``search`` (running one)."""
