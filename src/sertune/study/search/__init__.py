"""Running a search: its settings and grid, workers and their claims, epoch checkpoints, progress and --plan."""
