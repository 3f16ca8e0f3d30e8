"""Adapters imported on first use, so each Lambda function loads only what its handler needs.

chalicelib/deps.py names every adapter class and builder (under `TYPE_CHECKING`, for the type
checker); at run time each of those names is a :class:`Deferred` that imports its module the
first time it is called. Chalice has one app.py for all functions: without this, the webhook
function imported every adapter (pynamodb models, Powertools utilities, the report writers)
whichever function started (the cold start numbers: docs/performance.md).

The API function (app.py) serves every route, but a webhook needs none of the console's,
the reports' or the timeline's domain modules: those route modules name them the same way
(`deferred_imports(__file__, "chalicelib.domain")` for called names, `DeferredModule` for a
module used as a namespace), so they load with their route's first call.
"""

from __future__ import annotations

import ast
import importlib
import re
import textwrap
import threading
from pathlib import Path
from typing import Any

__all__ = ["Deferred", "DeferredModule", "deferred_imports"]

_LOCK = threading.Lock()
_TYPE_CHECKING = re.compile(r"if TYPE_CHECKING:\s*(#.*)?$")


class Deferred:
    """A callable standing for `module.name`: imports the module on the first call."""

    __slots__ = ("_module", "_name", "_target")

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name = module, name
        self._target: Any = None

    def resolve(self) -> Any:
        if self._target is None:
            with _LOCK:  # the import lock makes this safe already; this keeps it cheap
                if self._target is None:
                    self._target = getattr(importlib.import_module(self._module), self._name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


class DeferredModule:
    """A module used as a namespace (`board.parse_query(...)`): imported on the first
    attribute read."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<deferred module {self._name}>"


def deferred_imports(source_file: str, package: str = "chalicelib.adapters") -> dict[str, Any]:
    """{name: Deferred} for every `from <package>... import name` inside an
    `if TYPE_CHECKING:` block of `source_file` (the block stays the one list of names)."""
    names: dict[str, Any] = {}
    for block in _type_checking_blocks(Path(source_file).read_text(encoding="utf-8")):
        for statement in ast.parse(block).body:
            if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith(
                package
            ):
                for alias in statement.names:
                    names[alias.asname or alias.name] = Deferred(str(statement.module), alias.name)
    return names


def _type_checking_blocks(source: str) -> list[str]:
    """The body of each top-level `if TYPE_CHECKING:` block, dedented. Only those lines are
    parsed: parsing whole modules cost ~10 ms of every API cold start (deps.py and six route
    modules)."""
    blocks: list[str] = []
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if not _TYPE_CHECKING.match(line):
            continue
        body = []
        for following in lines[i + 1 :]:
            if following.strip() and not following[0].isspace():
                break  # back at the top level: `else:` or the module's next statement
            body.append(following)
        blocks.append(textwrap.dedent("\n".join(body)))
    return blocks
