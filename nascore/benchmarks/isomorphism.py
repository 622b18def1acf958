"""Which NAS-Bench-201 cells are the same network, under three rules of identification.

A cell is a sum-of-ops graph: node ``j`` is the sum over its incoming edges ``i -> j`` of ``op(node i)``,
``none`` being the zero and ``skip_connect`` the identity.  Each rule maps a cell to a key; cells with the
same key are isomorphic under that rule.

* ``paper`` (the default): the identification by which the NAS-Bench-201 paper counts 6,466 unique cells
  of 15,625.  Each node is written as the sorted, ``+``-joined list of one term per incoming edge: a
  ``none`` edge, or any edge out of a node written as a lone zero ``#``, gives ``#`` (which stays in the
  sum), a skip connection gives its source's text, any other op gives ``(source)@op``.  The key is the
  output node's text.  It discounts edges that cannot matter and the order of summed terms; the count
  depends on this exact writing (the joined text of a skip-connected sum merges with its neighbours when
  sorted), which is why it is kept character for character: other faithful encodings give 5,755 to 9,785.
* ``pruned``: only edges that cannot affect the output are discounted: an edge whose source receives
  nothing from the input (every path is cut by ``none``) or whose target cannot reach the output is set
  to ``none``; the key is the resulting architecture string (:func:`prune`).
* ``function``: the output as an expression of the input with every zero removed and sums taken as
  multisets: cells that compute the same function of their input, whatever the graph (the coarsest).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from nascore.benchmarks.nb201 import NUM_ARCHS, code_ops, to_code
from nascore.spaces.nb201 import EDGES, NODES, format_arch

ZERO = "0"


def live_edges(ops: list[str]) -> list[bool]:
    """Per edge (benchmark order): whether it can affect the cell's output."""
    carries = {0}  # nodes that receive something from the input
    for (src, dst), op in zip(EDGES, ops):  # EDGES is ordered by target, so sources are settled first
        if op != "none" and src in carries:
            carries.add(dst)
    reaches = {NODES - 1}  # nodes from which the output can be reached
    for (src, dst), op in sorted(zip(EDGES, ops), key=lambda item: -item[0][0]):
        if op != "none" and dst in reaches:
            reaches.add(src)
    return [op != "none" and src in carries and dst in reaches for (src, dst), op in zip(EDGES, ops)]


def _pruned_key(ops: list[str]) -> str:
    return format_arch([op if live else "none" for op, live in zip(ops, live_edges(ops))])


def prune(arch: Any) -> str:
    """The architecture with every edge that cannot affect the output set to ``none``."""
    return _pruned_key(code_ops(to_code(arch)))


def _paper_key(ops: list[str]) -> str:
    zero = "#"
    nodes = {0: "x"}
    for dst in range(1, NODES):
        terms = []
        for (src, d), op in zip(EDGES, ops):
            if d != dst:
                continue
            if op == "none" or nodes[src] == zero:
                terms.append(zero)
            elif op == "skip_connect":
                terms.append(nodes[src])
            else:
                terms.append(f"({nodes[src]})@{op}")
        nodes[dst] = "+".join(sorted(terms))
    return nodes[NODES - 1]


def _function_key(ops: list[str]) -> str:
    terms: dict[int, list[str]] = {0: ["x"]}  # each node: the multiset of non-zero terms it sums
    for dst in range(1, NODES):
        node: list[str] = []
        for (src, d), op in zip(EDGES, ops):
            if d != dst or op == "none" or not terms[src]:
                continue
            if op == "skip_connect":
                node.extend(terms[src])
            else:
                node.append(f"{op}({'+'.join(sorted(terms[src]))})")
        terms[dst] = node
    out = terms[NODES - 1]
    return "+".join(sorted(out)) if out else ZERO


#: identification rules by name: each maps the six edge ops to a key
RULES: dict[str, Callable[[list[str]], str]] = {
    "paper": _paper_key,
    "pruned": _pruned_key,
    "function": _function_key,
}


def _rule(rule: str) -> Callable[[list[str]], str]:
    try:
        return RULES[rule]
    except KeyError:
        raise ValueError(f"unknown isomorphism rule {rule!r}; choose one of {', '.join(RULES)}") from None


def canonical_form(arch: Any, rule: str = "paper") -> str:
    """The key of a cell under ``rule`` (see the module docstring)."""
    return _rule(rule)(code_ops(to_code(arch)))


def isomorphic(a: Any, b: Any, rule: str = "paper") -> bool:
    """Whether two cells are the same network under ``rule``."""
    fn = _rule(rule)
    return fn(code_ops(to_code(a))) == fn(code_ops(to_code(b)))


def classes(rule: str = "paper") -> Counter:
    """How many of the 15,625 cells share each key."""
    fn = _rule(rule)
    return Counter(fn(code_ops(code)) for code in range(NUM_ARCHS))


def unique_count(rule: str = "paper") -> int:
    """Distinct cells of the space under ``rule``: paper 6,466, pruned 9,445, function 4,930."""
    return len(classes(rule))
