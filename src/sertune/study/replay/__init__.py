"""Replay of strategies on recorded curves, and the yardsticks that judge what they select."""
