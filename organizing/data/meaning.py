"""What each column of the campaign files measures, for effects in real units and caveats.

The model works on standardized columns; an organizer thinks in notes, workers and
shares. :data:`MEANINGS` says, for every column of the two study files, what kind of
quantity it is (a count, the log of a count, a share, a correlation, a yes-or-no
feature or a level of a grouped feature), its unit, and which caveat an association
with it carries:

* ``after``: the measure may be recorded after a worker signed, so the association may
  run from signing to the measure (reverse causation): organizer notes, and the network
  measures built from them;
* ``chosen``: organizers chose it (whom to reach, when, how much), so workers who got more
  of it may differ in ways nobody recorded (selection);
* ``store``: a feature of the store or its place, which may stand in for store
  differences nobody recorded.

:func:`meaning` also covers the headline design's worksite means of worker features
(``<feature> (worksite mean)``) and the sensitivity analyses' columns.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Kinds of quantity.
BINARY, LEVEL, COUNT, LOG_COUNT, SHARE, CORRELATION, LOG_INDEX, LOG_MONEY = (
    "binary", "level", "count", "log of a count", "share", "correlation", "log of an index",
    "log of an amount")
#: Caveats.
AFTER, CHOSEN, STORE = "after", "chosen", "store"


@dataclass(frozen=True)
class Meaning:
    """What a column measures: ``kind`` (above), ``unit`` (plural noun, e.g. "notes"),
    ``caveat`` (``after``, ``chosen`` or ``store``) and whether organizers control it
    (``tactic``: a tactic a trial could assign)."""

    kind: str
    unit: str
    caveat: str
    tactic: bool = False


_QUARTILES = {f"Time To First Convo (Quart. {k})": Meaning(LEVEL, "", CHOSEN, tactic=True)
              for k in range(1, 5)}
_QUINTILES = {f"Campaign length (Quint. {k})": Meaning(LEVEL, "", STORE) for k in range(1, 6)}

#: Every column of the two study files that enters a model.
MEANINGS: dict[str, Meaning] = {
    "Is Male": Meaning(BINARY, "", STORE),
    **_QUARTILES,
    "Log(Eigen. Centrality)": Meaning(LOG_INDEX, "eigenvector centrality", AFTER),
    "No. Notes": Meaning(COUNT, "notes", AFTER, tactic=True),
    "Percent black in ZIP": Meaning(SHARE, "Black residents", STORE),
    "Percent Latino in ZIP": Meaning(SHARE, "Latino residents", STORE),
    "Percent male": Meaning(SHARE, "men among the store's workers", STORE),
    "Log(Mean AGI in ZIP)": Meaning(LOG_MONEY, "thousand dollars of mean income", STORE),
    "NDO (Eigen., Pearson)": Meaning(CORRELATION, "", AFTER, tactic=True),
    "Mobilizing (Pearson)": Meaning(CORRELATION, "", CHOSEN, tactic=True),
    **_QUINTILES,
    "Log(No. organizer convers.)": Meaning(LOG_COUNT, "organizer conversations", CHOSEN,
                                           tactic=True),
    "Log(No. workers contacted)": Meaning(LOG_COUNT, "workers contacted", CHOSEN),
    "Log(No. workers discovered)": Meaning(LOG_COUNT, "workers discovered", STORE),
    "Log(No. edges)": Meaning(LOG_COUNT, "ties", AFTER),
    "Log(Mean degree)": Meaning(LOG_INDEX, "ties per worker", AFTER),
    "Log(Centrality variance)": Meaning(LOG_INDEX, "centrality variance", AFTER),
    "Log(Centrality mean)": Meaning(LOG_INDEX, "mean centrality", AFTER),
    # the centrality sensitivity analysis's two columns (organizing.features)
    "Outside the network": Meaning(BINARY, "", AFTER),
    "Log(Eigen. Centrality), inside": Meaning(LOG_INDEX, "eigenvector centrality", AFTER),
}

#: Appended to a worker feature's name for its worksite means (as in organizing.features).
_MEAN_SUFFIX = " (worksite mean)"


def meaning(name: str) -> Meaning:
    """The meaning of a column, including a worksite mean of a worker feature: the mean
    of a yes-or-no feature or a level is a share of the store's workers, the mean of a
    count is a count per worker; its caveat is the worker feature's."""
    if name.endswith(_MEAN_SUFFIX):
        base = meaning(name.removesuffix(_MEAN_SUFFIX))
        kind = SHARE if base.kind in (BINARY, LEVEL) else base.kind
        unit = "of the store's workers" if kind == SHARE else (
            f"{base.unit} per worker" if base.kind == COUNT else base.unit)
        return Meaning(kind, unit, base.caveat, base.tactic)
    if name not in MEANINGS:
        raise KeyError(f"no meaning is recorded for the column {name!r}")
    return MEANINGS[name]
