"""Assembles the Lua scripts in ``lua/`` from their includes.

A line ``--- @include "name"`` is replaced by ``lua/includes/name.lua``, each
include at most once per script, includes of includes first. A missing or
circular include raises ``ScriptLoaderError`` naming the include chain.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import ScriptLoaderError

LUA_DIR = Path(__file__).with_name("lua")
INCLUDE = re.compile(r'^--- @include "([A-Za-z0-9_]+)"\s*$', re.MULTILINE)


@dataclass(frozen=True, slots=True)
class LuaScript:
    name: str
    source: str
    sha: str


def assemble(source: str, include_dir: Path, chain: tuple[str, ...] = (),
             done: set[str] | None = None) -> str:
    """Expand the include lines of ``source``; ``chain`` is the include path so far."""
    done = set() if done is None else done

    def expand(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in chain:
            raise ScriptLoaderError(f"circular include {' -> '.join((*chain, name))}")
        if name in done:
            return ""
        path = include_dir / f"{name}.lua"
        if not path.is_file():
            where = " -> ".join(chain) or "script"
            raise ScriptLoaderError(f"missing include {name!r} (from {where}): no {path}")
        done.add(name)
        return assemble(path.read_text(), include_dir, (*chain, name), done)

    return INCLUDE.sub(expand, source)


@cache
def load(name: str) -> LuaScript:
    """The script ``lua/<name>.lua`` with its includes expanded."""
    path = LUA_DIR / f"{name}.lua"
    if not path.is_file():
        raise ScriptLoaderError(f"no Lua script named {name!r} in {LUA_DIR}")
    source = assemble(path.read_text(), LUA_DIR / "includes", (name,))
    return LuaScript(name, source, hashlib.sha1(source.encode()).hexdigest())
