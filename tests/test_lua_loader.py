"""The Lua loader: includes expanded once, missing and circular ones refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from queuecore import lua_loader
from queuecore.errors import ScriptLoaderError


def test_every_script_assembles_without_include_lines() -> None:
    names = sorted(p.stem for p in lua_loader.LUA_DIR.glob("*.lua"))
    assert "move_to_finished" in names and "add_job" in names
    for name in names:
        script = lua_loader.load(name)
        assert "@include" not in script.source
        assert len(script.sha) == 40


def test_include_used_twice_is_expanded_once(tmp_path: Path) -> None:
    (tmp_path / "a.lua").write_text('--- @include "b"\nlocal function a() end\n')
    (tmp_path / "b.lua").write_text("local function b() end\n")
    source = lua_loader.assemble('--- @include "a"\n--- @include "b"\nreturn 1\n', tmp_path)
    assert source.count("local function b()") == 1
    assert source.index("function b") < source.index("function a")


def test_missing_include_names_the_chain(tmp_path: Path) -> None:
    (tmp_path / "a.lua").write_text('--- @include "nowhere"\n')
    with pytest.raises(ScriptLoaderError, match="missing include 'nowhere' \\(from top -> a\\)"):
        lua_loader.assemble('--- @include "a"\n', tmp_path, ("top",))


def test_circular_include_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.lua").write_text('--- @include "b"\n')
    (tmp_path / "b.lua").write_text('--- @include "a"\n')
    with pytest.raises(ScriptLoaderError, match="circular include top -> a -> b -> a"):
        lua_loader.assemble('--- @include "a"\n', tmp_path, ("top",))


def test_unknown_script() -> None:
    with pytest.raises(ScriptLoaderError, match="no Lua script named 'nope'"):
        lua_loader.load("nope")
