"""`repurchase/cli_support.py`: outputs that cannot be written are bad input, not crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.errors import InputError
from repurchase.cli_support import atomic_path


def test_atomic_path_refuses_a_folder_target(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()
    with pytest.raises(InputError, match="folder"), atomic_path(tmp_path / "report.html"):
        pytest.fail("must not be entered")


def test_atomic_path_refuses_a_target_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("a file")
    with (
        pytest.raises(InputError, match="is a file"),
        atomic_path(tmp_path / "plain.txt" / "m.json"),
    ):
        pytest.fail("must not be entered")


def test_atomic_path_leaves_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "out" / "m.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert list((tmp_path / "out").iterdir()) == []
