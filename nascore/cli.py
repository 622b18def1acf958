"""``python -m nascore``: search, evaluate, describe and bench from the command line.

Bad input (unknown names, non-positive sizes, unreadable files) prints what is wrong and
exits with status 2 before anything is written.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130

class UsageError(Exception):
    """Bad input: printed as is, exit status 2."""


def _add_search(sub: Any) -> None:
    from nascore.config import search_settings
    from nascore.settings_cli import add_settings_arguments

    p = sub.add_parser("search", help="run a one-shot architecture search",
                       description="Run a search. Settings come from --config (JSON or YAML) and/or flags; flags win. "
                                   "Each flag is a setting of a component; its help names where its default comes from.")
    p.add_argument("--config", help="JSON or YAML file of settings")
    p.add_argument("--out", help="output folder (events.jsonl, result.json, checkpoint.pt); "
                                 "default runs/<space>-<optimizer>-s<seed>")
    p.add_argument("--fresh", action="store_true", help="start over even if --out holds a checkpoint")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(setting_names=add_settings_arguments(p, search_settings()))


def _add_evaluate(sub: Any) -> None:
    from nascore.evaluation.train import eval_settings
    from nascore.settings_cli import add_settings_arguments

    p = sub.add_parser("evaluate", help="train a genotype from scratch and report its test accuracy",
                       description="Train the stand-alone network of a genotype from scratch; writes result.json.")
    p.add_argument("--space", default=None, help="search space of the genotype (default: from --result, else darts)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--genotype", help="a published name (darts_v2, nb201_best, ...), a JSON genotype, "
                                        "an nb201 string, or a JSON file")
    src.add_argument("--result", help="a search's result.json: evaluate the genotype it found")
    p.add_argument("--config", help="JSON or YAML file of evaluation settings")
    p.add_argument("--out", help="output folder for result.json and events.jsonl (default runs/eval-<space>-s<seed>)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(setting_names=add_settings_arguments(p, eval_settings(), skip=["space"]))


def _add_describe(sub: Any) -> None:
    p = sub.add_parser("describe", help="parameters and FLOPs of a genotype's network or of a supernet")
    p.add_argument("--space", default="darts", help="a built-in space, or a path to a space document")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--genotype", help="a published name, a JSON genotype, an nb201 string, or a JSON file")
    what.add_argument("--supernet", action="store_true", help="describe the one-shot search network")
    p.add_argument("--channels", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--json", action="store_true")


def _add_bench(sub: Any) -> None:
    from nascore.bench import add_arguments

    p = sub.add_parser("bench", help="time and memory of search steps (a benchmark, not a test)")
    add_arguments(p)


def _add_benchmark(sub: Any) -> None:
    from nascore.benchmarks.cli import add_arguments

    p = sub.add_parser("benchmark", help="import a tabular benchmark (NAS-Bench-201) and query it")
    add_arguments(p)


def _add_data(sub: Any) -> None:
    p = sub.add_parser("data", help="your own datasets: check an image folder or a CSV table",
                       description="Your own datasets live in the data folder: folder:NAME is the image folder "
                                   "<data_dir>/NAME, csv:NAME the table <data_dir>/NAME.csv or <data_dir>/NAME/data.csv.")
    dsub = p.add_subparsers(dest="data_command", required=True)
    check = dsub.add_parser("check", help="what a dataset holds and what is wrong with it",
                            description="Counts per split and class, image sizes and channels (images) or columns "
                                        "and first rows (tables), and every problem, each naming its file or folder. "
                                        "Exit status: 0 no problems, 1 problems, 2 no such path.")
    check.add_argument("path", metavar="PATH", help="an image folder, a CSV file, a folder holding data.csv, or a "
                                                    "name folder:NAME / csv:NAME in --data-dir")
    check.add_argument("--data-dir", default="data", help="the data folder names are looked up in (default: data)")
    check.add_argument("--target", default=None, help="a table's target column (default: nasboard.yaml's target, "
                                                      "else 'target')")
    check.add_argument("--json", action="store_true", help="the summary as JSON")


def _add_space(sub: Any) -> None:
    p = sub.add_parser("space", help="search spaces written as documents: export a built-in, check your own",
                       description="A search space is a YAML or JSON document (ops, cell graphs, the rule, the macro "
                                   "skeleton); `space export darts` prints one to start from.")
    ssub = p.add_subparsers(dest="space_command", required=True)
    export = ssub.add_parser("export", help="print a space's document (a built-in, or a document path)")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--json", action="store_true", help="as JSON instead of YAML")
    check = ssub.add_parser("check", help="validate a space document and summarise it; registers nothing",
                            description="Every problem is named with its place in the document. Exit status: 0 "
                                        "valid, 1 problems, 2 no such file.")
    check.add_argument("file", metavar="FILE")
    check.add_argument("--channels", type=int, help="initial channels for the supernet count (default: the space's)")
    check.add_argument("--layers", type=int, help="cells for the supernet count (default: the space's)")
    check.add_argument("--in-channels", type=int, default=3, help="input image channels (default 3)")
    check.add_argument("--classes", type=int, default=10, help="classes (default 10)")
    check.add_argument("--image-size", type=int, default=32, help="input image side, checked against the "
                                                                  "reductions (default 32)")
    check.add_argument("--json", action="store_true", help="the summary (or the problems) as JSON")


def _add_hpo(sub: Any) -> None:
    from nascore.hpo.study import StudySettings
    from nascore.settings_cli import add_settings_arguments

    p = sub.add_parser("hpo", help="a hyperparameter study (Optuna): joint architecture and hyperparameter "
                                   "optimisation of a tabular network (Auto-PyTorch Tabular's space), a search "
                                   "config's settings, a genotype's training (retrain) or a cell space's "
                                   "architecture and training (joint)",
                       description="Tune a network's architecture and training with Optuna (TPE and Hyperband by "
                                   "default): --problem tabular on a table's fixed train/validation/test split beside "
                                   "two baselines, config over a search config's settings, retrain over a genotype's "
                                   "stand-alone training (--space, --genotype), joint over a cell space's "
                                   "architecture and training (--space); writes result.json. Bad settings: every "
                                   "problem named, exit 2, nothing written.")
    p.add_argument("--out", help="output folder for result.json (default runs/hpo-<problem>-<dataset>-s<seed>)")
    p.add_argument("--json", action="store_true", help="print result.json")
    p.set_defaults(setting_names=add_settings_arguments(p, [StudySettings]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nascore", description="NASBoard engine: neural architecture search.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_search(sub)
    _add_evaluate(sub)
    _add_describe(sub)
    _add_bench(sub)
    _add_benchmark(sub)
    _add_data(sub)
    _add_space(sub)
    _add_hpo(sub)
    sub.add_parser("list", help="the spaces, optimizers, datasets, ops and published genotypes there are")
    settings = sub.add_parser("settings", help="every setting: type, default, bounds, what it does, where its default "
                                               "comes from", description="The settings reference, generated from "
                                               "the settings models of each component.")
    settings.add_argument("--kind", choices=("search", "train"), default="search",
                          help="the settings of a search, or of a stand-alone training (evaluate)")
    form = settings.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="the models' JSON schemas")
    form.add_argument("--markdown", action="store_true", help="Markdown tables (the README's reference)")
    prot = sub.add_parser("protocols", help="the papers' search protocols (search --protocol NAME): their settings "
                                            "and sources")
    prot.add_argument("--json", action="store_true", help="as JSON: name, title, source, values, fits, departs")
    comp = sub.add_parser("components", help="the components one-shot methods are composed of, and the presets")
    comp.add_argument("--json", action="store_true", help="as JSON: kinds, components, their settings, presets")
    return parser


def read_genotype(text: str) -> Any:
    """A genotype given on the command line: a name, an nb201 string, JSON, or a JSON file."""
    from nascore.spaces.genotypes import genotype_from_text

    try:
        return genotype_from_text(text)
    except ValueError as exc:
        raise UsageError(f"--genotype: {exc}") from None


def _print_errors(errors: dict[str, str]) -> None:
    print("error: the configuration is not valid:", file=sys.stderr)
    for key, msg in errors.items():
        print(f"  {key}: {msg}", file=sys.stderr)


class _Interrupt:
    """Ctrl-C asks the run to stop at the next step instead of killing it mid-write."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, *_: Any) -> None:
        self.requested = True

    def check(self) -> bool:
        return self.requested


def cmd_search(args: argparse.Namespace) -> int:
    from nascore.config import ConfigError, load_config_file, validate_config
    from nascore.data import DataError
    from nascore.optimizers.components.update_schedule import warmup_warning
    from nascore.progress import ConsoleProgress
    from nascore.runner import SearchFailed, run_search
    from nascore.settings_cli import given_settings

    raw = load_config_file(args.config) if args.config else {}
    raw.update(given_settings(args, args.setting_names))
    cfg = validate_config(raw)
    warning = warmup_warning(cfg.to_dict())
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    out = Path(args.out or f"runs/{cfg.space}-{cfg.optimizer}-s{cfg.seed}")
    interrupt = _Interrupt()
    signal.signal(signal.SIGINT, interrupt)
    progress = ConsoleProgress(cfg.runs if cfg.evaluator == "table" else cfg.epochs)
    try:
        outcome = run_search(cfg, out, stop_check=interrupt.check, resume=not args.fresh, progress=progress)
    except (ConfigError, DataError):
        raise
    except SearchFailed as exc:
        progress.close()
        print(f"error: the search failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    progress.close()
    result = outcome.result
    if args.json:
        print(json.dumps(result, indent=2))
    elif result.get("evaluator") == "table":
        from nascore.benchmarks.runner import describe_result

        print(describe_result(outcome.status, result, out))
    else:
        metrics = result["metrics"]
        print(f"{outcome.status}: {result['space']} / {result['optimizer']} on {result['dataset']}, "
              f"{result['epochs_completed']} epochs, val acc {metrics.get('val_acc', float('nan')):.4f}")
        if result.get("early_stop"):
            print(result["early_stop"]["reason"])
            print(f"genotype (epoch {result['returned_epoch']}): {json.dumps(result['genotype'])}")
            print(f"last epoch's genotype: {json.dumps(result['last_genotype'])}")
        else:
            print(f"genotype: {json.dumps(result['genotype'])}")
        selection = result.get("selection")
        if selection and selection.get("status") == "finished":
            from nascore.selection import describe_selection

            print(describe_selection(selection))
        print(f"results in {out}/ (result.json, events.jsonl, checkpoint.pt)")
    return EXIT_CANCELLED if outcome.status == "cancelled" else EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nascore.config import load_config_file
    from nascore.evaluation.train import evaluate_genotype, validate_eval_config
    from nascore.settings_cli import given_settings

    space = args.space
    if args.result:
        path = Path(args.result)
        if not path.is_file():
            raise UsageError(f"result file {args.result!r} does not exist")
        found = json.loads(path.read_text(encoding="utf-8"))
        if "genotype" not in found:
            raise UsageError(f"{args.result} holds no genotype")
        genotype, space = found["genotype"], space or found.get("space", "darts")
    else:
        genotype = read_genotype(args.genotype)
    space = space or "darts"
    raw = load_config_file(args.config) if args.config else {}
    raw.update(given_settings(args, args.setting_names))
    raw["space"] = space
    cfg = validate_eval_config(raw)
    from nascore.spaces import get_space

    try:
        get_space(space).resolve(genotype)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    out = Path(args.out or f"runs/eval-{space}-s{cfg.seed}")
    from nascore.events import JsonlSink

    out.mkdir(parents=True, exist_ok=True)
    interrupt = _Interrupt()
    signal.signal(signal.SIGINT, interrupt)
    result = evaluate_genotype(space, genotype, cfg, sinks=[JsonlSink(out / "events.jsonl")], stop_check=interrupt.check)
    (out / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"test accuracy {result['test_acc']:.4f}, {result['params']:,} parameters, {result['flops']:,} MACs; "
              f"result in {out}/result.json")
    return EXIT_OK


def cmd_describe(args: argparse.Namespace) -> int:
    from nascore.evaluation.measure import describe

    genotype = None if args.supernet else read_genotype(args.genotype)
    info = describe(args.space, genotype=genotype, supernet=args.supernet, channels=args.channels, layers=args.layers,
                    num_classes=args.classes, in_channels=args.in_channels, image_size=args.image_size)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key}: {value:,}" if isinstance(value, int) else f"{key}: {value}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from nascore.config import choices
    from nascore.ops import OPS
    from nascore.spaces import SPACES

    info = {**{k: v for k, v in choices().items() if k in ("space", "optimizer", "dataset")}, "ops": sorted(OPS),
            "genotypes": {name: sorted(space.published) for name, space in SPACES.items() if space.published}}
    print(json.dumps(info, indent=2))
    return EXIT_OK


def cmd_settings(args: argparse.Namespace) -> int:
    from nascore.config import search_settings
    from nascore.evaluation.train import eval_settings
    from nascore.settings_cli import help_text
    from nascore.settings_docs import json_reference, markdown

    groups = search_settings() if args.kind == "search" else eval_settings()
    if args.json:
        print(json.dumps(json_reference(groups), indent=2))
    elif args.markdown:
        print(markdown(groups), end="")
    else:
        for model in groups:
            print(model.title)
            for name, field_info in model.model_fields.items():
                print(f"  {name}: {help_text(field_info).replace('%%', '%')}")
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    from nascore.userdata import check_dataset, render_check

    try:
        summary = check_dataset(args.path, data_dir=args.data_dir, target=args.target)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(summary, indent=2) if args.json else render_check(summary))
    return EXIT_FAILED if summary["problems"] else EXIT_OK


def cmd_components(args: argparse.Namespace) -> int:
    from nascore.optimizers.catalogue import catalogue, render_text

    info = catalogue()
    print(json.dumps(info, indent=2) if args.json else render_text(info))
    return EXIT_OK


def cmd_protocols(args: argparse.Namespace) -> int:
    from nascore.protocols import PROTOCOLS, render_text

    print(json.dumps([p.describe() for p in PROTOCOLS.values()], indent=2) if args.json else render_text())
    return EXIT_OK


def cmd_space(args: argparse.Namespace) -> int:
    from nascore.spaces import BUILTIN_DIR, SPACES, get_space
    from nascore.spaces.document import DocumentError, check_document, dump, read_file, size_problems
    from nascore.spaces.document_space import DocumentSpace
    from nascore.spaces.summary import render, summarize

    if args.space_command == "export":
        if args.name in SPACES and not args.json:
            print((BUILTIN_DIR / f"{args.name}.yaml").read_text(), end="")  # as written, comments included
            return EXIT_OK
        try:
            space = get_space(args.name)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
        print(dump(space.to_document(), as_json=args.json), end="")  # type: ignore[attr-defined]
        return EXIT_OK
    if not Path(args.file).is_file():
        raise UsageError(f"no space document at {args.file}")
    try:
        doc, problems = check_document(read_file(args.file))
    except DocumentError as exc:
        doc, problems = None, exc.problems
    if doc is not None and not problems:
        for key, msg in size_problems(doc, args.channels, args.layers, args.image_size).items():
            problems[f"--{key.replace('_', '-')}"] = msg
    for flag, value in (("--channels", args.channels), ("--layers", args.layers), ("--in-channels", args.in_channels),
                        ("--classes", args.classes), ("--image-size", args.image_size)):
        if value is not None and value < 1:
            problems[flag] = f"{flag} must be a positive integer, not {value}"
    if problems:
        if args.json:
            print(json.dumps({"valid": False, "problems": problems}, indent=2))
        else:
            print(f"{args.file}: {len(problems)} problem{'s' if len(problems) > 1 else ''}", file=sys.stderr)
            for where, msg in problems.items():
                print(f"  {where}: {msg}", file=sys.stderr)
        return EXIT_FAILED
    summary = summarize(DocumentSpace(doc, source=args.file), args.channels, args.layers, args.in_channels,
                        args.classes)
    print(json.dumps({"valid": True, **summary}, indent=2) if args.json else render(summary))
    return EXIT_OK


def cmd_hpo(args: argparse.Namespace) -> int:
    from nascore.hpo.study import run_study, study_dataset, validate_study
    from nascore.settings_cli import given_settings

    raw = given_settings(args, args.setting_names)
    cfg = validate_study(raw)  # every problem named before anything runs or is written
    dataset = study_dataset(cfg) if cfg["problem"] != "config" else Path(cfg["config"]).stem
    out = Path(args.out or f"runs/hpo-{cfg['problem']}-{dataset.replace(':', '_')}-s{cfg['seed']}")
    interrupt = _Interrupt()
    signal.signal(signal.SIGINT, interrupt)

    def progress(done: int, total: int) -> None:
        print(f"\rtrial {done}/{total}", end="", file=sys.stderr, flush=True)

    result = run_study(cfg, out, progress=progress, stop=interrupt.check)
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        states = result["states"]
        test = f", test {result['best_test_acc']:.4f}" if result["best_test_acc"] is not None else ""
        print(f"{result['dataset']}: best validation accuracy {result['best_value']:.4f} (trial {result['best_trial']}"
              f"{test}); {states['complete']} complete, {states['pruned']} pruned, "
              f"{states['failed']} failed; {result['epochs']} epochs in {result['seconds']} s"
              if result["best_value"] is not None else f"{result['dataset']}: no trial completed")
        for name, figures in result["baselines"].items():
            print(f"baseline {name}: validation {figures['val_acc']:.4f}, test {figures['test_acc']:.4f}")
        print(f"wrote {out / 'result.json'}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from nascore.config import ConfigError
    from nascore.data import DataError
    from nascore.spaces.base import GenotypeError

    args = build_parser().parse_args(argv)
    handlers = {"search": cmd_search, "evaluate": cmd_evaluate, "describe": cmd_describe, "list": cmd_list,
                "settings": cmd_settings, "components": cmd_components, "protocols": cmd_protocols,
                "data": cmd_data, "space": cmd_space, "hpo": cmd_hpo}
    if args.command == "bench":
        from nascore.bench import run_from_args

        handlers["bench"] = run_from_args
    if args.command == "benchmark":
        from nascore.benchmarks.cli import run_from_args as run_benchmark

        handlers["benchmark"] = run_benchmark
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        _print_errors(exc.errors)
    except (UsageError, GenotypeError, DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    return EXIT_USAGE
