"""``--budget``: the cheap strategy that replay showed best at a budget, and the standard replay panel.

The table :data:`BY_BUDGET` is evidence, not a guess: each row is the live
strategy with the lowest regret among those whose mean epoch fraction stayed
within the budget when replayed on the recorded study
(``benchmarks/data/synthetic-emodb-h100.curves.npz``, ``benchmarks/bench_replay.py``
prints the table it comes from). Strategies' parameters are in epochs, so
each row is stated for the record's epochs and scaled to a search's epochs.

What the evidence says is printed with the choice: on this record (63 settings
x 6 repetitions x 30 epochs, recorded on an H100) no strategy within 25 % of
brute force's epochs selected as well as it; the losses are the rows'
``regret``. Its curves still rise at epoch 30, so early epochs rank settings
poorly. A second record at the paper's lr 1e-4 (24 settings x 60 epochs,
``synthetic-emodb-lr1e-4.curves.npz``) says the same at 10 % (the row's strategy,
scaled, loses 7.6 points there), but it is not the evidence: one setting wins all of its
repetitions, which makes the strategies that find one winner look better than they are
on a grid whose best varies (see ``benchmarks/data/README.md``). A record of the paper's
length and grid is what should replace it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from .registry import Strategy, parse_strategy

#: What `sertune replay` replays when no --strategy is given: every registered strategy at
#: settings a user would try first, cheap to expensive.
PANEL = [
    "brute",
    "asha", "asha:eta=4", "asha:min=2",
    "hyperband",
    "median:startup=5,warmup=2,interval=1",
    "topk:n=1,k=0.05", "topk:n=2,k=0.1",
    "random:budget=0.1", "tpe:budget=0.1",
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


#: Live strategies :func:`choose` picks from (the settings a budget row may use).
CANDIDATES = [
    "asha:eta=2", "asha", "asha:eta=4", "asha:eta=6", "asha:min=2", "asha:min=3", "asha:min=4",
    "asha:eta=2,min=2", "asha:eta=2,min=4",
    "hyperband", "hyperband:eta=2",
    "median", "median:warmup=2", "median:warmup=4", "median:warmup=6", "median:startup=3,warmup=2",
    "asha-screen", "asha-screen:keep=0.5", "asha-screen:reps=2,keep=0.5",
    "asha-screen:eta=4", "asha-screen:eta=6", "asha-screen:eta=8",
    "topk:n=1,k=0.05", "topk:n=1,k=0.1", "topk:n=2,k=0.05", "topk:n=2,k=0.1", "topk:n=3,k=0.05", "topk:n=4,k=0.05",
    "repfid:reps=1,n=3,top=0.1", "repfid:reps=1,top=0.05", "repfid:reps=1,top=0.1", "repfid:reps=1,n=10,top=0.2",
    "repfid:reps=2,n=10,top=0.2",
]

#: Budgets a row of :data:`BY_BUDGET` is kept for.
BUDGETS = (0.10, 0.25, 0.50)

#: The recorded study the evidence comes from (a brute-force search; see benchmarks/README.md).
RECORD = "benchmarks/data/synthetic-emodb-h100.curves.npz"


@dataclass(frozen=True)
class Evidence:
    """One row: at ``budget``, :func:`choose` picked ``spec`` on the record of ``epochs`` epochs,
    which spent ``fraction`` of brute force's epochs and lost ``regret`` test WA points
    (``low``, ``high``: the range of 95 % of arrival orders)."""

    budget: float
    spec: str
    epochs: int
    fraction: float
    regret: float
    low: float
    high: float

    def text(self) -> str:
        return (f"on the recorded study it spent {self.fraction:.0%} of brute force's epochs and lost "
                f"{self.regret:.1f} test WA points against brute force's choice (95 % of arrival orders: "
                f"{self.low:+.1f} to {self.high:+.1f})")


#: The evidence, as :func:`choose` picks it on :data:`RECORD` over 100 orders with seed 0
#: (``benchmarks/bench_replay.py`` prints it; tests/test_study_budget.py checks this table
#: against the record, so it cannot drift from it).
BY_BUDGET: list[Evidence] = [
    Evidence(0.10, "topk:n=1,k=0.05", 30, 0.0947, 7.6815, 6.8452, 10.4167),
    Evidence(0.25, "asha:eta=2,min=2,bootstrap=0", 30, 0.2316, 4.2153, 1.2748, 8.2068),
    Evidence(0.50, "median:startup=5,warmup=6,interval=1", 30, 0.4155, 0.6687, -1.1062, 1.3889),
]


def choose(results, budget: float):
    """The result with the lowest mean regret among live ones spending at most ``budget`` of the
    epochs on average (ties: the cheaper); None when none fits."""
    fits = [r for r in results if r.live and r.epoch_fraction.mean <= budget + 1e-9]
    return min(fits, key=lambda r: (round(r.regret.mean, 6), r.epoch_fraction.mean), default=None)


def strategy_for(budget: str | float, epochs: int) -> Strategy:
    """The live strategy replay showed best within ``budget`` of brute force's epochs, its epoch
    parameters scaled from the record's epochs to ``epochs``.

    Takes the row of :data:`BY_BUDGET` with the largest budget not above the one asked for;
    ConfigError when the budget is below every row.
    """
    row = evidence_for(budget)
    return parse_strategy(row.spec).scaled(epochs / row.epochs)


def evidence_for(budget: str | float) -> Evidence:
    """The row of :data:`BY_BUDGET` with the largest budget not above ``budget``."""
    value = parse_budget(budget)
    rows = [row for row in BY_BUDGET if row.budget <= value + 1e-9]
    if not rows:
        cheapest = min(row.budget for row in BY_BUDGET)
        raise ConfigError(f"budget={budget!r}: no strategy was replayed below {cheapest:.0%} of brute "
                          f"force's epochs; give --budget {cheapest:.0%} or more")
    return max(rows, key=lambda row: row.budget)
