"""CLI fixtures: the bad-input corpus, valid companion files, and an isolated working folder.

Commands run in-process with typer's CliRunner on `repurchase.cli:app` (what `repurchase`
runs), from an empty folder with no MLflow or service configuration, so any file a failing
command leaves behind shows up as a new entry in that folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from repurchase.cli import app
from repurchase.settings import get_settings

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
VALID = CORPUS / "valid"
EXPECTED: dict[str, dict[str, str]] = tomllib.loads((CORPUS / "expected.toml").read_text())
AS_OF = "2026-06-30"  # inside the valid orders' history (2025-07 to 2026-10)


@dataclass(frozen=True)
class Outcome:
    """What a command did: exit code, the two streams, and an unexpected exception if any."""

    exit_code: int
    stdout: str
    stderr: str
    crash: BaseException | None

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def invoke(args: list[str]) -> Outcome:
    """Run `repurchase <args>` in-process; a Python exception escaping the command is a crash."""
    result: Result = CliRunner().invoke(app, args)
    crash = None if isinstance(result.exception, SystemExit | None) else result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr, crash)


def assert_rejected(outcome: Outcome, names: str, fragment: str = "") -> None:
    """Exit code 2, exactly one non-empty stderr line naming `names` (and `fragment`), no
    traceback, nothing on stdout."""
    assert outcome.crash is None, f"crashed: {outcome.crash!r}"
    assert outcome.exit_code == 2, (outcome.exit_code, outcome.stderr)
    lines = outcome.error_lines()
    assert len(lines) == 1, outcome.stderr
    assert outcome.stderr.strip() == lines[0], outcome.stderr  # nothing but that line
    assert "Traceback" not in outcome.stderr
    assert names in lines[0], lines[0]
    assert fragment in lines[0], lines[0]
    assert outcome.stdout == "", outcome.stdout


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty current folder; MLflow, the service home and the config all default into it."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in (
        "REPURCHASE_MLFLOW_TRACKING_URI",
        "REPURCHASE_DATABASE_URL",
        "REPURCHASE_CONFIG_FILE",
        "REPURCHASE_MODEL_URI",
        "REPURCHASE_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()  # settings are read once per process: read this environment
    yield folder
    get_settings.cache_clear()
