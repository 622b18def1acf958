"""What a user dataset holds and what is wrong with it (``data check``, the Datasets page), whatever its kind."""
from __future__ import annotations

from pathlib import Path
from typing import Any


from nascore.userdata.names import (is_user_name, locate, locate_path)
from nascore.userdata.images import _check_images, scan_folder
from nascore.userdata.tables import _check_table

# ---- checking -------------------------------------------------------------------------------------------------
def check_dataset(path_or_name: str | Path, data_dir: str | Path | None = None, target: str | None = None
                  ) -> dict[str, Any]:
    """What a dataset holds and what is wrong with it, as a JSON-able dict; a problem never stops the check.

    ``path_or_name``: a user dataset's name (``folder:NAME``, ``csv:NAME``, looked up in ``data_dir``) or a path
    (a CSV file, a folder with ``data.csv``, an image folder).  Keys: ``name``, ``path``, ``kind`` (images|table),
    ``present``, ``classes``, ``splits`` (split -> total and per-class counts), ``problems`` (each ``{path,
    message}``); for images ``layout``, ``channels``, ``modes``, ``image_sizes`` (min/max/most common/distinct),
    ``image_size`` and ``image_size_from``, ``settings``; for tables ``target``, ``columns`` (name, type, role),
    ``rows`` (the first ones), ``features``, ``settings``.  Raises FileNotFoundError for a path that is not there.
    """
    name = str(path_or_name)
    if is_user_name(name) and data_dir is not None:
        try:
            loc = locate(name, data_dir)
        except ValueError as exc:
            raise FileNotFoundError(str(exc)) from None
    else:
        if not Path(path_or_name).exists():
            raise FileNotFoundError(f"{path_or_name}: no such file or folder")
        loc = locate_path(path_or_name)
    summary = _check_table(loc, target) if loc.kind == "table" else _check_images(loc)
    return {"name": loc.name, "path": str(loc.path), "present": True, **summary}


def render_check(summary: dict[str, Any]) -> str:
    """The summary of :func:`check_dataset` for a person to read."""
    lines = [f"{summary.get('name') or summary['path']}: {'image folder' if summary['kind'] == 'images' else 'table'} "
             f"({summary['path']})"]
    if summary["kind"] == "images":
        lines.append(f"layout: {summary['layout']}" + ("" if summary["layout"] == "train/test" else
                     f" (split per class: test_fraction {summary['settings']['test_fraction']}, "
                     f"split_seed {summary['settings']['split_seed']})"))
        sizes = summary["image_sizes"]
        if sizes:
            lines.append(f"image sizes: most common {sizes['most_common'][0]}x{sizes['most_common'][1]}, "
                         f"min {sizes['min'][0]}x{sizes['min'][1]}, max {sizes['max'][0]}x{sizes['max'][1]} "
                         f"({sizes['distinct']} distinct)")
        if summary["image_size"]:
            lines.append(f"loaded at: {summary['image_size']}x{summary['image_size']} "
                         f"({summary['settings']['fit']}; size from {summary['image_size_from']})")
        if summary["channels"]:
            lines.append(f"channels: {summary['channels']} ({', '.join(summary['modes'])})")
    else:
        lines.append(f"target: {summary['target']}")
        lines.append("columns: " + ", ".join(f"{c['name']} ({c['type']})" for c in summary["columns"]))
        for row in summary["rows"]:
            lines.append("  " + ", ".join(row))
    splits = list(summary["splits"])
    lines.append(f"classes: {len(summary['classes'])}")
    lines.append("  " + "class".ljust(20) + "".join(s.rjust(8) for s in splits))
    for name in summary["classes"]:
        lines.append("  " + name[:20].ljust(20) + "".join(str(summary["splits"][s]["classes"].get(name, 0)).rjust(8)
                                                          for s in splits))
    lines.append("  " + "total".ljust(20) + "".join(str(summary["splits"][s]["total"]).rjust(8) for s in splits))
    problems = summary["problems"]
    lines.append(f"problems: {len(problems)}" if problems else "problems: none")
    lines += [f"  {p['path']}: {p['message']}" for p in problems]
    return "\n".join(lines)


def sample_files(path_or_name: str | Path, data_dir: str | Path | None = None, per_class: int = 4
                 ) -> dict[str, list[Path]]:
    """A few image files per class (the first of the training split), for thumbnails."""
    loc = locate(str(path_or_name), data_dir) if is_user_name(str(path_or_name)) and data_dir is not None \
        else locate_path(path_or_name)
    if loc.kind != "images" or loc.root is None:
        return {}
    scan = scan_folder(loc.root)
    split = "train" if "train" in scan.files else "all"
    return {c: scan.files[split].get(c, [])[:per_class] for c in scan.classes}
