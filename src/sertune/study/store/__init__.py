"""What a study stores and how it is read back: the Optuna storage, the claims table, recorded learning curves, read-only views."""
