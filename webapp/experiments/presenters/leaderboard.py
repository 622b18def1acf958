"""The leaderboard of one search space and dataset: the user's completed searches and the published results of
``reference_results.json`` (cited, marked as published) ranked in one table. Pure: rows in, ranked rows out."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

REFERENCE_FILE = Path(__file__).with_name("reference_results.json")

RANKING_NOTE = ("Ranked by test accuracy (of a retrain, or as published); rows without one follow, ranked by their "
                "best validation accuracy. Published rows come from the papers' own training setups: compare with care.")


@lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    """The published results and their sources, as stored in the project (read once)."""
    return json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))


@dataclass
class Entry:
    """One leaderboard row. Accuracies are fractions; ``published`` rows carry their ``citation``."""

    label: str
    val_acc: float | None = None
    test_acc: float | None = None
    test_std: float | None = None
    params: float | None = None
    cost: str = ""
    published: bool = False
    citation: str = ""
    source_short: str = ""
    experiment_id: int | None = None
    optimizer: str = ""
    seed: int | None = None
    detail: str = ""
    rank: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def published_entries(space: str, dataset: str) -> list[Entry]:
    """The published results for one space and dataset, as entries (percent turned into fractions)."""
    ref = reference()
    out = []
    for row in ref["results"]:
        if row["space"] != space or row["dataset"] != dataset or row.get("role") == "blackbox":
            continue  # black-box rows belong beside regret curves of the same protocol (presenters/regret.py)
        source = ref["sources"][row["source"]]
        test = row.get("test_pct")
        std = None
        if test is None and row.get("test_error_pct") is not None:
            test = 100.0 - row["test_error_pct"]
            std = row.get("test_error_std_pct")
        cost = f"{row['search_gpu_days']:g} GPU days" if row.get("search_gpu_days") is not None else ""
        out.append(Entry(
            label=row["label"], val_acc=row["val_pct"] / 100 if row.get("val_pct") is not None else None,
            test_acc=test / 100 if test is not None else None, test_std=std / 100 if std is not None else None,
            params=row["params_m"] * 1e6 if row.get("params_m") is not None else None, cost=cost, published=True,
            citation=source["citation"], source_short=source["short"],
            detail="hand-designed or optimal reference" if row.get("role") == "reference" else "",
            extra={"genotype": row.get("genotype"), "genotype_name": row.get("genotype_name")},
        ))
    return out


def published_pairs() -> list[tuple[str, str]]:
    """(space, dataset) pairs the reference has results for."""
    return sorted({(r["space"], r["dataset"]) for r in reference()["results"]})


def source_notes(entries: Sequence[Entry]) -> list[dict[str, str]]:
    """The full citation and caveat of each source the entries use, once each, for the page's footnotes."""
    ref = reference()
    seen: list[dict[str, str]] = []
    for key, source in ref["sources"].items():
        if any(e.published and e.citation == source["citation"] for e in entries):
            seen.append({"key": key, **source})
    return seen


def rank(entries: Sequence[Entry]) -> list[Entry]:
    """Rows with a test accuracy first, by it; then the others by validation accuracy; rows with neither last.
    Equal figures share a rank (1, 2, 2, 4)."""
    def key(e: Entry) -> tuple[int, float]:
        if e.test_acc is not None:
            return (0, -e.test_acc)
        if e.val_acc is not None:
            return (1, -e.val_acc)
        return (2, 0.0)

    ordered = sorted(entries, key=lambda e: (key(e), e.published, e.label))
    previous: tuple[int, float] | None = None
    for i, entry in enumerate(ordered, start=1):
        k = key(entry)
        entry.rank = ordered[i - 2].rank if previous == k and k[0] < 2 else i
        previous = k
    return ordered
