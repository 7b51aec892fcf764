"""The one exception type for input a user must fix (the CLI turns it into exit code 2)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad input: the message names the file, the column and an example row, on one line."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        column: str | None = None,
        row_number: int | None = None,
        row: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.column = column
        self.row_number = row_number
        self.row = dict(row) if row is not None else None
        super().__init__(self._render(message))

    def _render(self, message: str) -> str:
        parts = []
        if self.path:
            parts.append(f"{Path(self.path).name}:")
        if self.column:
            parts.append(f"column '{self.column}':")
        parts.append(message)
        if self.row_number is not None:
            example = ""
            if self.row is not None:
                shown = {k: _short(v) for k, v in list(self.row.items())[:8]}
                example = f" {shown}"
            parts.append(f"(e.g. row {self.row_number}:{example})")
        return " ".join(parts).replace("\n", " ")


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
