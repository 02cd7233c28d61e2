"""The reply codes have one table per side, and the two agree."""

from __future__ import annotations

import re

from queuecore.codes import ReplyCode
from queuecore.errors import ERROR_CODES
from queuecore.lua_loader import LUA_DIR


def lua_codes() -> dict[str, int]:
    source = (LUA_DIR / "includes" / "reply_codes.lua").read_text()
    return {name: int(value) for name, value in
            re.findall(r"^\s*([A-Z_]+) = (-?\d+),", source, re.MULTILINE)}


def test_the_lua_table_and_the_python_enum_agree() -> None:
    assert lua_codes() == {code.name: code.value for code in ReplyCode}


def test_every_error_code_has_its_error() -> None:
    negative = {code for code in ReplyCode if code < 0}
    assert set(ERROR_CODES) == negative


def test_no_script_returns_a_bare_error_code() -> None:
    # every script's refusals are named: Code.X, not a number (obliterate and
    # is_finished have codes of their own, codes.Obliterated and codes.Finished)
    for path in [*LUA_DIR.glob("*.lua"), *(LUA_DIR / "includes").glob("*.lua")]:
        if path.stem in ("obliterate", "is_finished"):
            continue
        for line in path.read_text().splitlines():
            assert not re.search(r"\breturn -\d+\b|code = -\d+", line), f"{path.name}: {line}"
