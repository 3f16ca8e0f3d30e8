"""Every shell example in README.md and docs/ runs as written against a fresh local stack.

Each page's ```sh blocks run in order in one bash session (as a reader runs them in one
terminal), from the repository's root, after `eval "$(bin/orderhub env)"`: the stack's URLs and
a dev key per role. `curl` fails on any 4xx/5xx answer (`--fail-with-body`) except in blocks
marked ```sh errors, which show refusals on purpose (there only a 5xx fails). Lines that start
the stack's lifecycle or long runs are checked instead of run: `make run`, `make test`,
`make bench`, `make demo`, `make stop`, ... with `make -n` (the target exists and its recipe
expands), the benchmark scripts with `--help` (they import and take those arguments); the
tests of those commands are elsewhere (tests/e2e/test_local_stack_e2e.py,
tests/e2e/test_demo_e2e.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Stack, start_stack

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
RUNNABLE = {"sh", "bash", "shell"}
NOT_RUN = re.compile(
    r"^(\s*)make (run|test|bench|bench-reconcile|package|demo|stop|clean|lint|typecheck|"
    r"cfn-lint|pytest|unit|integration|e2e)\b([^#\n]*)(#[^\n]*)?",
    re.M,
)
LONG_SCRIPT = re.compile(
    r"^(\s*)(\.venv/bin/python (?:-m bench\.\w+|bench/\w+\.py)[^#\n]*)(#[^\n]*)?", re.M
)
# a 4xx/5xx fails the example, unless the example asks for curl's own --fail already
CURL_STRICT = (
    'curl() { case " $* " in *" --fail "*|*" -f "*|*" --fail-with-body "*) command curl "$@";; '
    '*) command curl --fail-with-body "$@";; esac; }'
)
CURL_LENIENT = 'curl() { command curl "$@"; }'


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    code: str
    errors: bool  # shows refusals on purpose


def examples(page: Path) -> list[Example]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        words = match.group(1).split()
        if words and words[0] in RUNNABLE:
            line = text.count("\n", 0, match.start()) + 1
            found.append(Example(page, line, match.group(2), "errors" in words[1:]))
    return found


def script(page_examples: list[Example]) -> str:
    parts = ["set -eo pipefail", 'eval "$(bin/orderhub env)"']
    for example in page_examples:
        code = NOT_RUN.sub(r"\1make -n \2\3 >/dev/null", example.code)
        code = LONG_SCRIPT.sub(r"\1\2 --help >/dev/null", code)
        where = f"{example.page.relative_to(ROOT)}:{example.line}"
        parts += [
            f"echo '>>> example at {where}'",
            CURL_LENIENT if example.errors else CURL_STRICT,
            code,
        ]
    return "\n".join(parts) + "\n"


PAGES = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))] if examples(p)]


def test_the_examples_are_found():
    """The runner sees the pages' examples (a fence it cannot parse would hide them)."""
    readme = examples(ROOT / "README.md")
    assert len(readme) >= 5
    assert any(e.errors for e in readme)
    run = script([Example(ROOT, 1, "make run   # the stack\n", False)])
    assert "make -n run    >/dev/null\n" in run
    bench = script([Example(ROOT, 1, ".venv/bin/python bench/drive.py --rate 10  # x\n", False)])
    assert ".venv/bin/python bench/drive.py --rate 10   --help >/dev/null" in bench


@pytest.fixture(scope="module")
def fresh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("docs-stack"))
    yield running
    running.process.send_signal(signal.SIGINT)
    try:
        running.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        running.process.kill()


@dataclass(frozen=True)
class Run:
    output: str
    code: int


def run_page(page: Path, stack: Stack, tmp: Path) -> Run:
    path = tmp / (page.stem + ".sh")
    path.write_text(script(examples(page)))
    env = {
        **os.environ,
        "ORDERHUB_STATE_FILE": str(stack.state_file),
        "HOME": str(tmp),  # nothing an example writes lands in the real home
    }
    for name in ("ORDERHUB_ORDER_QUEUE_URL", "ORDERHUB_ORDER_DLQ_URL", "ORDERHUB_API"):
        env.pop(name, None)  # the stack of this test, never one from the caller's shell
    done = subprocess.run(
        ["bash", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return Run(done.stdout + done.stderr, done.returncode)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_shell_example_runs_as_written(page: Path, fresh_stack: Stack, tmp_path: Path):
    run = run_page(page, fresh_stack, tmp_path)
    tail = run.output[-6000:]
    assert run.code == 0, f"an example of {page.name} failed (the last '>>>' names it):\n{tail}"
    assert '"internal_error"' not in run.output, tail
