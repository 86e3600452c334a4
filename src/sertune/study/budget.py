"""``--budget``: the cheap strategy that replay showed best at a budget, and the standard replay panel.

The table :data:`BY_BUDGET` is evidence, not a guess: each row is the live
strategy with the lowest regret among those whose mean epoch fraction stayed
within the budget when replayed on the recorded study
(``benchmarks/data/synthetic-emodb.curves.npz``, ``benchmarks/bench_replay.py``
prints the table it comes from). Strategies' parameters are in epochs, so
each row is stated for the record's epochs and scaled to a search's epochs.
"""

from __future__ import annotations

from ..errors import ConfigError
from .strategies import Strategy, parse_strategy

#: What `sertune replay` replays when no --strategy is given: every registered strategy at
#: settings a user would try first, cheap to expensive.
PANEL = [
    "brute",
    "asha", "asha:eta=4", "asha:min=2",
    "hyperband",
    "median:startup=5,warmup=2,interval=1",
    "topk:n=1,k=0.05", "topk:n=2,k=0.1",
    "random:budget=0.1",
    "repfid:reps=1,top=0.1", "repfid:reps=1,n=3,top=0.1",
]


def parse_budget(text: str | float) -> float:
    """``"10%"`` or ``0.1`` -> 0.1; ConfigError for anything not in (0, 100 %]."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"budget={text!r} must be a percentage of brute force's epochs, e.g. 10%") from None
    if not 0 < value <= 1:
        raise ConfigError(f"budget={text!r} is out of range: give a percentage in (0 %, 100 %], e.g. 10%")
    return value


#: The evidence: (budget, strategy spec, epochs of the record it was measured on). Read from
#: ``benchmarks/bench_replay.py`` on the recorded study; see the README's "What a budget costs".
BY_BUDGET: list[tuple[float, str, int]] = [
    (0.10, "asha", 20),
]


def strategy_for(budget: str | float, epochs: int) -> Strategy:
    """The live strategy replay showed best within ``budget`` of brute force's epochs, its epoch
    parameters scaled from the record's epochs to ``epochs``.

    Takes the row of :data:`BY_BUDGET` with the largest budget not above the one asked for;
    ConfigError when the budget is below every row.
    """
    value = parse_budget(budget)
    rows = [row for row in BY_BUDGET if row[0] <= value + 1e-9]
    if not rows:
        cheapest = min(b for b, _, _ in BY_BUDGET)
        raise ConfigError(f"budget={budget!r}: no strategy was shown to select well below {cheapest:.0%} of "
                          f"brute force's epochs; give --budget {cheapest:.0%} or more")
    _, spec, record_epochs = max(rows)
    return parse_strategy(spec).scaled(epochs / record_epochs)
