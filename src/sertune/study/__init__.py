"""The search over Θ x repetitions: grids, storage, workers, progress (see docs/study-storage.md)."""
