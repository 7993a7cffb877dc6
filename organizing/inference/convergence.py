"""The convergence rule a NUTS run is checked by, and the record of that check.

Light on purpose (NumPy-free dataclass and constants): the results and the report read
it without loading ArviZ or JAX; :func:`organizing.inference.diagnostics.diagnose`
computes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: A run is flagged when its largest rank-normalized split R-hat exceeds this,
R_HAT_MAX = 1.01
#: when its smallest bulk or tail ESS is below this many per chain,
ESS_PER_CHAIN_MIN = 100
#: or when any chain's E-BFMI is below this (or any transition diverged).
BFMI_MIN = 0.3


@dataclass(frozen=True)
class Diagnostics:
    """Worst-case convergence diagnostics over every element of every site, and the
    thresholds they were checked against.

    ``divergences`` counts divergent transitions after warm-up over all chains;
    ``min_bfmi`` is the lowest E-BFMI of any chain (NaN without energies);
    ``draws`` is per chain. ``flags`` lists in words each threshold that was
    missed, naming the worst element (``site[i, j]``); empty means healthy.
    ``r_hat_max``, ``ess_min`` (over all chains) and ``bfmi_min``: the rule applied.
    """

    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float
    chains: int
    draws: int
    flags: tuple[str, ...]
    r_hat_max: float = R_HAT_MAX
    ess_min: float = ESS_PER_CHAIN_MIN
    bfmi_min: float = BFMI_MIN

    @property
    def ok(self) -> bool:
        return not self.flags

    def as_dict(self) -> dict:
        return asdict(self)
