"""Number formatting for the book's prose, matching its tables.

great-tables writes a negative number with a true minus sign (U+2212) and
groups thousands with commas; every function here does the same, so that a
number quoted in a sentence reads exactly as it does in the table beside it.
The ``*_DECIMALS`` constants are the decimals the tables use for each kind of
quantity, and the prose uses the same ones.
"""

from __future__ import annotations

import math

MINUS = "\u2212"
#: Log-odds coefficients, scales and their intervals.
COEFFICIENT_DECIMALS = 2
#: Held-out metrics (AUC, Brier score, log loss, ECE).
METRIC_DECIMALS = 3
#: PSIS-LOO elpd and its standard error (log scale, hundreds to thousands).
ELPD_DECIMALS = 1
#: R-hat.
RHAT_DECIMALS = 3
#: Percentages of a whole.
SHARE_DECIMALS = 1
#: The separator of a merged interval in tables and prose: "−0.47 to 0.44".
INTERVAL_SEPARATOR = " to "

_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def number(x: float, decimals: int = COEFFICIENT_DECIMALS) -> str:
    """A real number with fixed decimals, thousands separators and a true minus sign.

    ``number(-3257.14, 1) == "−3,257.1"``; a value that rounds to zero loses its sign.
    """
    x = float(x)
    if math.isnan(x):
        return "n/a"
    text = f"{x:,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        text = text.lstrip("-")
    return _minus(text)


def count(n: float) -> str:
    """A whole number with thousands separators: ``16,335``."""
    return _minus(f"{round(float(n)):,}")


def shown_count(n: int | None, min_count: int) -> str:
    """A count kept by disclosure control (:attr:`Disclosure.counts`): ``1,234``, or
    ``fewer than k`` where it was withheld (None)."""
    return f"fewer than {min_count}" if n is None else count(n)


def share(x: float, decimals: int = SHARE_DECIMALS) -> str:
    """A proportion as a percentage: ``17.2%``."""
    return f"{number(100 * float(x), decimals)}%"


def probability(p: float) -> str:
    """A posterior probability as a whole percentage, rounded toward 50%.

    Rounding toward 50% (down above it, up below it) means a printed probability
    never reaches a threshold the probability itself does not reach: 0.987 prints
    "98%", not "99%", beside a word that needs 99%. Never a bare 0% or 100% from
    finite draws: "more than 99%" and "less than 1%".
    """
    p = float(p)
    if p > 0.99:
        return "more than 99%"
    if p < 0.01:
        return "less than 1%"
    percent = math.floor(100 * p + 1e-9) if p >= 0.5 else math.ceil(100 * p - 1e-9)
    return f"{percent}%"


def interval(q5: float, q95: float, decimals: int = COEFFICIENT_DECIMALS) -> str:
    """A 90% interval as the tables merge it: ``−0.47 to 0.44``."""
    return f"{number(q5, decimals)}{INTERVAL_SEPARATOR}{number(q95, decimals)}"


def estimate(mean: float, q5: float, q95: float, decimals: int = COEFFICIENT_DECIMALS) -> str:
    """A posterior mean with its 90% interval: ``0.34 (0.12 to 0.57)``."""
    return f"{number(mean, decimals)} ({interval(q5, q95, decimals)})"


def plus_minus(value: float, se: float, decimals: int = ELPD_DECIMALS) -> str:
    """A value and its standard error: ``−3,257.1 ± 64.0``."""
    return f"{number(value, decimals)} ± {number(se, decimals)}"


def times(x: float, decimals: int = 1) -> str:
    """A ratio as a multiple: ``1.5×``."""
    return f"{number(x, decimals)}×"


def scientific(x: float, digits: int = 1) -> str:
    """A tiny or huge number in powers of ten: ``1.3 × 10⁻¹³`` (``0`` for exactly zero)."""
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return f"{_minus(mantissa)} × 10{str(int(exponent)).translate(_SUPERSCRIPTS)}"


def setting(x: float) -> str:
    """A positive setting such as σ: ``10⁻⁴``, ``2.5 × 10⁻³``, or 3 significant digits."""
    if not 0 < x < 0.01:
        return _minus(f"{x:.3g}")
    mantissa, exponent = f"{x:.2e}".split("e")
    power = "10" + str(int(exponent)).translate(_SUPERSCRIPTS)
    mantissa = f"{float(mantissa):.2g}"
    return power if mantissa == "1" else f"{mantissa} × {power}"


def log_density(x: float) -> str:
    """A log density or log joint: thousands separators, one decimal only below 1,000."""
    return number(x, 1 if abs(x) < 1000 else 0)


def seconds(x: float) -> str:
    """A duration: ``0.4 s``, ``12 s``, ``3.5 min``."""
    if x < 10:
        return f"{number(x, 1)} s"
    if x < 120:
        return f"{number(x, 0)} s"
    return f"{number(x / 60, 1)} min"


def listing(items) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = [str(item) for item in items]
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
