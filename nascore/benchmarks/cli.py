"""``python -m nascore benchmark import|query|info``: bring a tabular benchmark in, look architectures up."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from nascore.benchmarks import BENCHMARKS, STORE_ENV, import_table, load_table, stored_file
from nascore.benchmarks.isomorphism import RULES, canonical_form, prune
from nascore.benchmarks.nb201 import DATASETS, METRICS
from nascore.benchmarks.nb201_official import SCHEDULES


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="benchmark_command", required=True)
    store_help = f"store folder (default ${STORE_ENV} or ~/.nascore/benchmarks)"
    imp = sub.add_parser("import", help="check NAS-Bench-201 results (CSV or the official files) and store them",
                         description="Check every architecture of a results file and store it for fast lookups: "
                                     "the CSV layout (arch_str, train/valid/test loss and accuracy, times), the "
                                     "official NAS-Bench-201-v1_*.pth, NATS-Bench's NATS-tss-*.pickle.pbz2, or "
                                     "the NATS-tss-*-simple folder.")
    imp.add_argument("path", help="the results: a .csv file, a .pth or .pickle.pbz2 file, or a -simple folder")
    imp.add_argument("--dataset", default="cifar10", choices=DATASETS,
                     help="cifar10 is the benchmark's cifar10-valid setting (trained on the training half)")
    imp.add_argument("--epochs", default=None, choices=SCHEDULES,
                     help="the official files' training schedule (default 200); a CSV holds one set of figures")
    imp.add_argument("--space", default="nb201", choices=sorted(BENCHMARKS))
    imp.add_argument("--store", default=None, help=store_help)
    imp.add_argument("--json", action="store_true")
    query = sub.add_parser("query", help="print an architecture's figures",
                           description="An architecture's figures on one dataset; validation and test apart.")
    query.add_argument("arch", help="a benchmark string (|op~0|+|op~0|op~1|+...|) or a published name (nb201_best)")
    query.add_argument("--dataset", default="cifar10", choices=DATASETS)
    query.add_argument("--space", default="nb201", choices=sorted(BENCHMARKS))
    query.add_argument("--store", default=None, help=store_help)
    query.add_argument("--json", action="store_true")
    info = sub.add_parser("info", help="the stored tables and their optima")
    info.add_argument("--store", default=None, help=store_help)
    info.add_argument("--json", action="store_true")


class _ImportProgress:
    """A bar over the architectures of an official file (reading the -simple folder takes minutes); only
    on a terminal."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="arch", file=sys.stderr, dynamic_ncols=True,
                            desc="reading", disable=not sys.stderr.isatty())
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    progress = _ImportProgress()
    try:
        table, path = import_table(args.path, args.space, args.dataset, args.store, args.epochs, progress)
    finally:
        progress.close()
    seconds = time.perf_counter() - started
    load_started = time.perf_counter()
    type(table).load(path)
    return {"stored": str(path), "dataset": table.dataset, "architectures": table.meta["rows"],
            "format": table.meta.get("format", "csv"), "epochs": table.meta.get("epochs"),
            "import_seconds": round(seconds, 3), "load_seconds": round(time.perf_counter() - load_started, 4),
            "sha256": table.meta["sha256"], "best_valid": table.optimum()}


def cmd_query(args: argparse.Namespace) -> dict[str, Any]:
    table = load_table(args.space, args.dataset, args.store)
    record = table.query(args.arch)
    sets = {"valid_set": table.meta.get("valid_set"), "test_set": table.meta.get("test_set")}
    return {**record.to_dict(), "pruned": prune(record.code),
            "canonical": {rule: canonical_form(record.code, rule) for rule in RULES},
            "table": {"format": table.meta.get("format", "csv"), "epochs": table.meta.get("epochs"), **sets}}


def cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    tables = []
    for space, spec in BENCHMARKS.items():
        for dataset in spec.datasets:
            path = stored_file(space, dataset, args.store)
            if path.is_file():
                table = load_table(space, dataset, args.store)
                tables.append({"space": space, "dataset": dataset, "file": str(path),
                               "source": table.meta.get("source"), "imported_at": table.meta.get("imported_at"),
                               "format": table.meta.get("format", "csv"), "epochs": table.meta.get("epochs"),
                               "best_valid": table.optimum()})
    return {"store": str(stored_file("nb201", "cifar10", args.store).parent), "tables": tables}


COMMANDS = {"import": cmd_import, "query": cmd_query, "info": cmd_info}


def _print_text(command: str, report: dict[str, Any]) -> None:
    if command == "import":
        best = report["best_valid"]
        schedule = f", {report['epochs']} epochs" if report["epochs"] else ""
        print(f"imported {report['architectures']:,} architectures ({report['dataset']}{schedule}, "
              f"{report['format']}) in "
              f"{report['import_seconds']:.2f} s into {report['stored']} (loads in {report['load_seconds'] * 1000:.1f} ms)")
        print(f"best validation accuracy {best['valid_acc']:.3f}% ({best['arch']}), its test accuracy "
              f"{best['test_acc']:.3f}%")
    elif command == "query":
        print(f"{report['arch']}  ({report['dataset']}, code {report['code']})")
        for name, metric in METRICS.items():
            print(f"  {metric.title:<34} {report[name]:.4f}")
        print(f"  {'pruned (dead edges as none)':<34} {report['pruned']}")
        table = report["table"]
        if table["valid_set"]:  # the official files name their evaluation sets
            print(f"  from the {table['format']} file, {table['epochs']} epochs: validation = {table['valid_set']}, "
                  f"test = {table['test_set']}")
    else:
        print(f"store: {report['store']}")
        if not report["tables"]:
            print("no tables; import one with `python -m nascore benchmark import PATH --dataset cifar10`")
        for t in report["tables"]:
            schedule = f", {t['epochs']} epochs" if t["epochs"] else ""
            print(f"  {t['space']} {t['dataset']}: {t['file']} (from {t['source']}, {t['format']}{schedule}, "
                  f"{t['imported_at']}); best "
                  f"validation {t['best_valid']['valid_acc']:.3f}%, its test {t['best_valid']['test_acc']:.3f}%")


def run_from_args(args: argparse.Namespace) -> int:
    """Run a ``benchmark`` subcommand; errors (BenchmarkError, GenotypeError: ValueErrors) reach the CLI's
    handler, which prints them and exits with status 2."""
    report = COMMANDS[args.benchmark_command](args)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        _print_text(args.benchmark_command, report)
    return 0


__all__ = ["add_arguments", "run_from_args"]
