"""``--budget``: the cheap strategy that replay showed best at a budget, and the standard replay panel.

A budget is a share of brute force's *device time*: every epoch counts at its setting's
seconds per epoch, which differ up to 70x between settings. The table :data:`BY_BUDGET` is
evidence, not a guess: each row is the live strategy of least :func:`risk` (mean *setting
regret*, :mod:`sertune.study.replay.yardsticks`, plus the upper end of its 95 % range) among
those whose mean share of device time stayed within the budget, replayed on the recorded study
:data:`RECORD` over 100 arrival orders (``benchmarks/bench_replay.py`` prints the table it comes
from). It is judged on setting regret because per-repetition regret also counts the luck brute
force harvests by keeping the best of S trainings per repetition, which no cheaper strategy can
(13.6 points on the synthetic H100 record; on real speech none: -0.8). Strategies' parameters
are in epochs, so each row is stated for the record's epochs and scaled to a search's epochs.

The record is real speech: brute force on the real EmoDB at the paper's lr 1e-4, 25 settings
(M 24, 48, 96 x L 255, 1023 x H 80, 240 x T 1, 2 s, and θ•) x 10 repetitions x 40 epochs, with
each setting's seconds per epoch measured on 2 CPU cores (0.72 to 10.05 s; the best settings
are among the dearest). What it says: within 15 % of brute force's device time no candidate
selects settings within a point of brute force's (the 10 % row loses 2.9 points of setting
regret on average and up to 7.8 in 1 of 40 arrival orders); ranking every setting after 2 of
the 40 epochs and training the best 2 to the end (``topk:n=2,k=0.05``) spends 17.6 % and loses
0.3 (-0.7 to +1.6). The candidates were fixed before the real record was read; the rule
(:func:`risk`) was set after it, when the mean alone picked the one-repetition screens.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from .base import _count
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
    """``"10%"`` or ``0.1`` -> 0.1 of brute force's device time; ConfigError for anything not in (0, 100 %]."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"budget={text!r} must be a percentage of brute force's device time, e.g. 10%") from None
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
    # Added with setting regret, before the real EmoDB record was read: every setting trained in full
    # on one repetition, then only the best one or two on the others (the candidate).
    "repfid:reps=1,top=1", "repfid:reps=1,top=2", "repfid:reps=1,n=20,top=0.1", "asha-screen:reps=1,keep=0.1",
    "repfid:reps=1,n=10,top=1", "repfid:reps=1,n=20,top=1", "repfid:reps=1,n=20,top=2", "repfid:reps=1,n=25,top=1",
]

#: Budgets a row of :data:`BY_BUDGET` is kept for.
BUDGETS = (0.10, 0.15, 0.20, 0.25, 0.50)

#: The recorded study the evidence comes from (a brute-force search; see benchmarks/README.md),
#: and its number of settings (tests/test_study_budget.py checks it against the record).
RECORD = "benchmarks/data/emodb-lr1e-4.curves.npz"
RECORD_SETTINGS = 25
#: How the evidence names it to a user.
RECORD_LABEL = "the real EmoDB record"

#: :func:`plan_text` explains a budget a grid cannot reach when the share estimated for the grid
#: exceeds the budget by more than this factor. The estimate replays synthesized curves of the
#: grid's size over 10 orders; on a grid the size of the record's it lands near the budget
#: (25 settings x 10 repetitions x 150 epochs: 10.4 % at --budget 10 %, 16.7 % at 25 %), while
#: 12 settings spend 13.7 % at 10 % and are told why.
OVER = 1.2


@dataclass(frozen=True)
class Evidence:
    """One row: at ``budget`` (a share of brute force's device time), :func:`choose` picked ``spec``
    on the record of ``epochs`` epochs. There it spent ``device_fraction`` of brute force's
    device time (``epoch_fraction`` of its epochs) and lost ``setting_regret`` test WA points of
    setting quality (``low``, ``high``: the range of 95 % of arrival orders) and
    ``per_rep_regret`` by the paper's per-repetition protocol (:mod:`sertune.study.replay.yardsticks`)."""

    budget: float
    spec: str
    epochs: int
    device_fraction: float
    epoch_fraction: float
    setting_regret: float
    low: float
    high: float
    per_rep_regret: float

    def text(self) -> str:
        return (f"on {RECORD_LABEL} ({RECORD_SETTINGS} settings x {self.epochs} epochs) it spent "
                f"{self.device_fraction:.0%} of brute force's device time ({self.epoch_fraction:.0%} of its epochs); "
                f"setting regret (its settings against brute force's, each scored on the repetitions it was not "
                f"picked on) {self.setting_regret:+.1f} points, 95 % of arrival orders {self.low:+.1f} to "
                f"{self.high:+.1f}; per-repetition regret (the paper's protocol, which also counts the luck of "
                f"keeping the best of many trainings) {self.per_rep_regret:+.1f} points")


#: The evidence, as :func:`choose` picks it on :data:`RECORD` over 100 orders with seed 0
#: (``benchmarks/bench_replay.py`` prints it; tests/test_study_budget.py checks this table
#: against the record, so it cannot drift from it).
BY_BUDGET: list[Evidence] = [
    Evidence(0.10, "asha-screen:eta=8", 40, 0.0935, 0.0849, 2.9312, -1.7744, 7.7715, 2.4093),
    Evidence(0.15, "topk:n=1,k=0.05", 40, 0.1291, 0.103, 2.8174, 0.258, 4.9128, 1.0935),
    Evidence(0.20, "topk:n=2,k=0.05", 40, 0.1758, 0.126, 0.3393, -0.7061, 1.6295, -0.3916),
    Evidence(0.25, "topk:n=2,k=0.1", 40, 0.2333, 0.164, -0.5375, -1.4746, 0.6088, -0.7019),
    Evidence(0.50, "topk:n=2,k=0.1", 40, 0.2333, 0.164, -0.5375, -1.4746, 0.6088, -0.7019),
]


def yardstick(result):
    """What a choice is judged by: setting regret, or per-repetition regret on a record of one
    repetition (which has no setting regret)."""
    return result.setting_regret if result.setting_regret is not None else result.regret


def cost(result) -> float:
    """What a budget is counted in: the mean share of brute force's device time (epochs where unknown)."""
    return (result.device_fraction or result.epoch_fraction).mean


def risk(result) -> float:
    """What :func:`choose` minimizes: the mean setting regret over arrival orders plus the upper end of
    its 95 % range (per-repetition regret on a record of one repetition), so that a default neither loses
    much on average nor much in the one search a user runs. On the real EmoDB record the mean alone
    preferred strategies that rank every setting on one repetition (``repfid:reps=1,n=0,...``): the
    least mean, and up to 5.5 points lost in 1 of 40 arrival orders, where the screened repetition is a
    poor one."""
    regret = yardstick(result)
    return regret.mean + regret.high


def choose(results, budget: float):
    """The live result of least :func:`risk` among those spending at most ``budget`` of brute force's
    device time on average (ties: the cheaper); None when none fits."""
    fits = [r for r in results if r.live and cost(r) <= budget + 1e-9]
    return min(fits, key=lambda r: (round(risk(r), 6), cost(r)), default=None)


def evidence_of(result, budget: float, epochs: int) -> Evidence:
    """The :data:`BY_BUDGET` row of a replay result (what bench_replay prints to paste there)."""
    setting = yardstick(result)
    return Evidence(budget, result.spec, epochs, round(cost(result), 4), round(result.epoch_fraction.mean, 4),
                    round(setting.mean, 4), round(setting.low, 4), round(setting.high, 4),
                    round(result.regret.mean, 4))


def strategy_for(budget: str | float, epochs: int) -> Strategy:
    """The live strategy replay showed best within ``budget`` of brute force's device time, its epoch
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
                          f"force's device time; give --budget {cheapest:.0%} or more")
    return max(rows, key=lambda row: row.budget)


def smallest_step(strategy: Strategy, epochs: int) -> tuple[int, str]:
    """Epochs ``strategy`` trains a setting on every repetition before it may stop it, and the
    parameter that says so; ``(0, "")`` where a setting may get no epoch at all on some
    repetition (random, tpe, repfid, and asha-screen past its screening repetitions)."""
    name = strategy.name
    if name == "topk":
        step, param = strategy.n, "n"
    elif name in ("asha", "hyperband"):
        step, param = strategy.min, "min"
    elif name == "median":       # Optuna's first check: epoch `warmup`, or `interval` without warmup
        step, param = (strategy.warmup, "warmup") if strategy.warmup >= 1 else (strategy.interval, "interval")
    else:
        step, param = 0, ""
    return min(step, epochs), param


def least_share(strategy: Strategy, *, settings: int, epochs: int, reps: int = 1) -> tuple[float, list[str]]:
    """The smallest share of brute force's epochs ``strategy`` can spend on a grid, and why.

    Parameters
    ----------
    strategy : Strategy
        As the search runs it (epoch parameters already scaled to ``epochs``).
    settings : int
        Settings S in the grid.
    epochs : int
        Epochs E of a training.
    reps : int
        Repetitions R of the search (``repfid`` screens every setting on ``reps`` of them).

    Returns
    -------
    share : float in (0, 1]
        ``(F E + (S - F) m) / (S E)``: F settings trained in full on every repetition (at
        least the one selected; more where the strategy keeps a count or a share of the
        grid, or stops nothing before ``startup`` trainings), the others at least the
        strategy's :func:`smallest_step` m.
    reasons : list of str
        One sentence per term, for a user.
    """
    S, E, name = settings, epochs, strategy.name
    full, why = 1, ""
    if name == "brute":
        full, why = S, "brute force trains every one of them"
    elif name == "topk":
        full, why = _count(strategy.k, S), f"{name} keeps the top k={strategy.k:g} of them to the end"
    elif name == "repfid":
        full, why = _count(strategy.top, S), f"{name} trains the top={strategy.top:g} of them to the end"
    elif name in ("random", "tpe"):
        full, why = _count(strategy.budget, S), f"{name} trains budget={strategy.budget:g} of them in full"
    elif name == "median":
        full = min(S, max(1, strategy.startup))
        why = f"{name} stops nothing until startup={strategy.startup} trainings have finished"
    if full == 1:
        reasons = [f"with {S} settings, the one selected, trained to the end on each repetition, is already "
                   f"1/{S} = {1 / S:.0%} of brute force's epochs"]
    else:
        reasons = [f"with {S} settings, {why}: {full} of {S} trained to the end on each repetition are "
                   f"already {full / S:.0%} of brute force's epochs"]
    step, param = smallest_step(strategy, E)
    if step and full < S:
        reasons.append(f"{name}'s smallest step trains every other setting at least {param}={step} of the {E} "
                       f"epochs ({step / E:.0%} of a training): +{(S - full) * step / (S * E):.0%}")
    share = (full * E + (S - full) * step) / (S * E)
    if name == "repfid" and full < S:      # every other setting is screened on `reps` of the R repetitions
        screened, n = min(strategy.reps, reps), min(strategy.n or E, E)
        extra = (S - full) * screened * n / (S * reps * E)
        reasons.append(f"{name} screens every other setting for {n} of the {E} epochs on reps={screened} of the "
                       f"{reps} repetitions ({screened}/{reps} of its training): +{extra:.0%}")
        share += extra
    return share, reasons


def plan_text(budget: str | float, *, strategy: str, settings: int, epochs: int, fraction: float,
              reps: int = 10, device: float | None = None) -> str:
    """What ``--plan`` says of ``--budget``: the strategy it runs and the evidence for it, and, on a
    grid too small for the budget, what share the search will spend instead and why.

    Parameters
    ----------
    budget : str or float
        As given (``"10%"`` or ``0.1``).
    strategy : str
        The spec the search runs (``SearchConfig.search_strategy()``: the row's, scaled).
    settings, epochs, reps : int
        The grid's settings, the epochs of a training and the search's repetitions.
    fraction : float
        The share of brute force's epochs estimated for this grid (``Plan.strategy_fraction``).
    device : float, optional
        The share of its device time estimated for this grid (``Plan.device_fraction``), which a
        budget counts; the share of epochs stands for it when None.
    """
    value = parse_budget(budget)
    row = evidence_for(value)
    head = f"--budget {value:.0%} runs {strategy}: {row.text()}"
    spend = fraction if device is None else device
    if spend <= value * OVER:
        return head
    live = parse_strategy(strategy)
    least, reasons = least_share(live, settings=settings, epochs=epochs, reps=reps)
    share = (f"{fraction:.0%} of brute force's epochs (at least {least:.0%})" if device is None else
             f"{device:.0%} of brute force's device time ({fraction:.0%} of its epochs, at least {least:.0%})")
    lines = [head, f"--budget {value:.0%} is out of reach on this grid: the search will spend about {share}:"]
    lines += [f"  {r}" for r in reasons]
    if fraction > least * OVER:
        lines.append("  the rest: trainings it lets go on (replayed on synthetic curves of this size)")
    # More epochs help only where the step could not shrink with them (at least 1 epoch).
    step, _ = smallest_step(live, epochs)
    record_step, _ = smallest_step(parse_strategy(row.spec), row.epochs)
    epochs_help = epochs < row.epochs and step / epochs > 1.5 * record_step / row.epochs
    lines.append(f"  more settings (the record has {RECORD_SETTINGS})"
                 + (f" and more --epochs (up to the record's {row.epochs})" if epochs_help else "")
                 + f" bring the share toward {value:.0%}")
    return "\n".join(lines)
