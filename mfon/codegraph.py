"""Which ``mfon`` source files a workflow script runs: the closure of its imports, read from the source.

Snakemake reruns a job when one of its input files changes, and the rules list a fingerprint of these files as
a ``code`` input (:func:`write_fingerprint`), so that editing a module reruns exactly the rules whose scripts
import it (directly or not).
Computed by reading the files (``ast``), never by importing them: it is cheap and runs while the workflow
plans. Imports inside functions count too (a lazy import is still code the job runs).
"""

from __future__ import annotations

import ast
import hashlib
import os
from functools import lru_cache
from pathlib import Path

from .atomic import atomic_path

PACKAGE = "mfon"


def _module_file(root: Path, module: str) -> Path | None:
    """The file of dotted ``module`` under ``root`` (the folder holding the package), or None."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@lru_cache(maxsize=None)
def _imported_modules(root: Path, file: Path) -> frozenset[str]:
    """Dotted names of the mfon modules ``file`` imports (package __init__ files included); read once."""
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    this = _package_of(root, file) if file.is_relative_to(root / PACKAGE) else ""
    is_package = file.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = this.split(".") if is_package else this.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from pkg import name`: name may be a submodule.
            names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                parts = name.split(".")
                for i in range(1, len(parts) + 1):
                    found.add(".".join(parts[:i]))
    return frozenset(m for m in found if _module_file(root, m) is not None)


def _skipped(module: str, skip: tuple[str, ...]) -> bool:
    return any(module == s or module.startswith(s + ".") for s in skip)


@lru_cache(maxsize=None)
def _closure(root: str, script: str, skip: tuple[str, ...], also: tuple[str, ...]) -> tuple[str, ...]:
    root_path = Path(root)
    seen: set[str] = set()
    todo = [*_imported_modules(root_path, Path(script)), *also]
    while todo:
        module = todo.pop()
        if module in seen or _skipped(module, skip):
            continue
        seen.add(module)
        todo.extend(_imported_modules(root_path, _module_file(root_path, module)) - seen)
    return tuple(sorted(str(_module_file(root_path, m)) for m in seen))


def code_files(script: str | Path, root: str | Path, skip: tuple[str, ...] = (),
               also: tuple[str, ...] = ()) -> list[str]:
    """The mfon source files that ``script`` runs; ``root`` is the folder that holds the ``mfon`` package.

    ``skip``: modules (and their submodules) the job never runs although the script could import them, such
    as the extractors a registry would load for other settings; they and what only they import are left out.
    ``also``: modules the job runs that no import statement names (a registry loads them by name).
    """
    return list(_closure(str(Path(root).resolve()), str(Path(script).resolve()), tuple(skip), tuple(also)))


def write_fingerprint(path: str | Path, files: list[str], root: str | Path, about: str) -> str:
    """Keep ``path`` listing the SHA-256 of each of ``files`` (paths shown relative to ``root``), with the
    newest modification time among them; returns ``path``.

    One small input in place of every module file: a job's header stays a few lines, and its rerun is the same
    as with the module files listed (the fingerprint is as new as the newest of them and changes when any one
    changes). Rewritten only when that content or time differs, so planning twice changes nothing."""
    path = Path(path)
    lines = [f"# {about}"] + [f"{hashlib.sha256(Path(f).read_bytes()).hexdigest()}  {os.path.relpath(f, root)}"
                               for f in files]
    text = "\n".join(lines) + "\n"
    newest = max(Path(f).stat().st_mtime_ns for f in files)
    try:
        current = path.read_text(encoding="utf-8"), path.stat().st_mtime_ns
    except OSError:
        current = None
    if current != (text, newest):
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
            os.utime(tmp, ns=(newest, newest))
    return str(path)
