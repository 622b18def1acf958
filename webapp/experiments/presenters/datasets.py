"""Sentences of the Datasets pages, from a built-in spec or a :func:`nascore.userdata.check_dataset` summary."""
from __future__ import annotations

from typing import Any


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}{'es' if word.endswith('s') else 's'}"


def builtin_row(spec: Any, present: bool) -> dict[str, Any]:
    return {
        "name": spec.name, "title": spec.title, "kind": "built-in",
        "channels": spec.in_channels, "classes": spec.num_classes,
        "image_size": f"{spec.image_size}x{spec.image_size}",
        "present": present,
        "presence": ("ships with scikit-learn" if spec.name == "digits" else
                     "in the data folder" if present else "not in the data folder"),
    }


def user_row(name: str) -> dict[str, Any]:
    kind = "image folder" if name.startswith("folder:") else "table (CSV)"
    return {"name": name, "title": name.split(":", 1)[1], "kind": kind}


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What a user dataset holds, in a few sentences."""
    classes = len(summary["classes"])
    splits = summary["splits"]
    if summary["kind"] == "table":
        features = len(summary["features"])
        return [f"{_plural(splits['all']['total'], 'row')}, {_plural(features, 'feature column')}, target column "
                f"{summary['target']!r} with {_plural(classes, 'class')}.",
                "A table: for models of tabular data; an architecture search here needs images."]
    total = sum(s["total"] for s in splits.values())
    lines = [f"{_plural(total, 'image file')} in {_plural(classes, 'class')}: {splits['train']['total']:,} to train, "
             f"{splits['test']['total']:,} to test."]
    settings = summary["settings"]
    if summary["layout"] == "single":
        lines.append(f"One folder per class, split by NASBoard: {settings['test_fraction']:.0%} of each class held "
                     f"out to test (split_seed {settings['split_seed']}).")
    else:
        lines.append("Split as stored: train/ and test/.")
    if summary["image_size"]:
        size = summary["image_size"]
        how = "resized" if settings["fit"] == "resize" else "scaled and centre-cropped"
        lines.append(f"Networks see {size}x{size} images with {_plural(summary['channels'] or 0, 'channel')} "
                     f"({how} to that size; the size is {summary['image_size_from']}).")
    sizes = summary["image_sizes"]
    if sizes and sizes["distinct"] > 1:
        lines.append(f"Image sizes vary: from {sizes['min'][0]}x{sizes['min'][1]} to {sizes['max'][0]}x"
                     f"{sizes['max'][1]}, most often {sizes['most_common'][0]}x{sizes['most_common'][1]}.")
    elif sizes:
        lines.append(f"Every image is {sizes['most_common'][0]}x{sizes['most_common'][1]}.")
    return lines


def count_table(summary: dict[str, Any]) -> dict[str, Any]:
    """Columns (the splits) and one row per class, then the totals."""
    splits = list(summary["splits"])
    rows = [{"name": c, "counts": [summary["splits"][s]["classes"].get(c, 0) for s in splits]}
            for c in summary["classes"]]
    return {"splits": splits, "rows": rows, "totals": [summary["splits"][s]["total"] for s in splits]}


def problem_lines(summary: dict[str, Any], root: str) -> list[dict[str, str]]:
    """Each problem with its file or folder named relative to the dataset (the data folder is not shown)."""
    out = []
    for p in summary["problems"]:
        path = p["path"]
        shown = path[len(root):].lstrip("/") if path.startswith(root) else path.rsplit("/", 1)[-1]
        out.append({"where": shown or ".", "message": p["message"]})
    return out


def problems_heading(count: int) -> str:
    return "No problems found." if not count else f"{_plural(count, 'problem')} (the rest of the dataset is shown):"
