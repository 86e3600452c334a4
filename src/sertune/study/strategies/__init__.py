"""Search strategies (brute force, pruners, phased, sampled), their registry and --budget's choice among them."""
