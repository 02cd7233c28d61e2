"""The import-linter contracts of pyproject.toml (run by `make test`): their
module lists cover every queuecore module, they are kept, and each import
they ignore is one that would break them, so an ignore never outlives the
import it names (import-linter also refuses an ignore that matches nothing)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import queuecore

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
# what the dashboard may import besides ``queuecore`` itself
PUBLIC = {"queuecore.errors", "queuecore.conf", "queuecore.search", "queuecore.text"}
DJANGO_SIDE = {"queuecore.apps", "queuecore.conf", "queuecore.management"}


def config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def contract(name_starts: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    return next(c for c in (conf or config())["contracts"] if c["name"].startswith(name_starts))


def modules() -> set[str]:
    """queuecore's modules and packages, one level down."""
    return {f"queuecore.{m.name}" for m in pkgutil.iter_modules(queuecore.__path__)}


def lint(config_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT_IMPORTS, "--no-cache", "--no-logo", "--config", str(config_file)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_every_queuecore_module_is_public_or_forbidden_to_the_dashboard() -> None:
    """A new module must be placed: named public here, or forbidden in pyproject.toml."""
    forbidden = set(contract("The dashboard")["forbidden_modules"])
    assert not forbidden & PUBLIC
    assert modules() == PUBLIC | forbidden


def test_every_queuecore_module_but_the_django_side_is_core() -> None:
    core = set(contract("queuecore's core")["source_modules"])
    assert core == {"queuecore"} | (modules() - DJANGO_SIDE)


def test_the_contracts_are_kept() -> None:
    result = lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


IGNORED = [(c["name"], ignored) for c in config()["contracts"]
           for ignored in c.get("ignore_imports", [])]


@pytest.mark.parametrize(("name", "ignored"), IGNORED)
def test_each_ignored_import_breaks_its_contract(tmp_path: Path, name: str,
                                                 ignored: str) -> None:
    text = (ROOT / "pyproject.toml").read_text()
    line = f'    "{ignored}",\n'
    assert text.count(line) == 1
    without = tmp_path / "pyproject.toml"
    without.write_text(text.replace(line, ""))
    result = lint(without)
    assert result.returncode == 1, result.stdout
    assert f"{name} BROKEN" in result.stdout
    assert f"{ignored} (l." in result.stdout  # the chain names the import, with its line
