"""The malformed-file corpus through every command that reads that kind of file.

Each file in `tests/data/bad_inputs/<kind>/` (README.md there says what is wrong with it) must
end every command that reads a `<kind>` file with exit code 2, exactly one stderr line naming
the file and the problem, no traceback, nothing on stdout, and no output file or temporary
leftover in the working folder. The other inputs of each command are valid
(`tests/data/bad_inputs/valid/`), so the bad file is the only reason to fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import AS_OF, EXPECTED, VALID, assert_rejected, invoke

Commands = dict[str, list[str]]


def orders_commands(bad: Path) -> Commands:
    """Every command that reads an orders file, with `bad` as that file."""
    orders = ["--orders", str(bad), "--as-of", AS_OF]
    return {
        "features": ["features", *orders, "--out", "features.csv"],
        "score": ["score", *orders, "--out", "scores.csv", "--model", "fit"],
        "plan": ["plan", *orders, "--out", "plan.csv", "--scores", str(VALID / "scores.csv")],
        "plan-fit": ["plan", *orders, "--out", "plan.parquet", "--model", "fit"],
        "train": ["train", "--orders", str(bad), "--as-of", AS_OF],
        "backtest": ["backtest", *orders, "--report", "r.html", "--metrics", "m.json"],
    }


def products_commands(bad: Path) -> Commands:
    orders = ["--orders", str(VALID / "orders.csv"), "--as-of", AS_OF, "--products", str(bad)]
    return {
        "features": ["features", *orders, "--out", "features.csv"],
        "score": ["score", *orders, "--out", "scores.csv", "--model", "fit"],
        "plan": ["plan", *orders, "--out", "plan.csv", "--model", "fit"],
        "train": ["train", *orders],
        "backtest": ["backtest", *orders, "--report", "r.html", "--metrics", "m.json"],
    }


def plan_with(option: str) -> Callable[[Path], Commands]:
    """`plan` with valid orders and scores and `bad` given to `option`."""

    def commands(bad: Path) -> Commands:
        args = ["plan", "--orders", str(VALID / "orders.csv"), "--as-of", AS_OF]
        args += ["--out", "plan.csv"]
        if option != "--scores":
            args += ["--scores", str(VALID / "scores.csv")]
        return {"plan": [*args, option, str(bad)]}

    return commands


def policy_commands(bad: Path) -> Commands:
    return {
        **plan_with("--policy")(bad),
        "policy show": ["policy", "show", "--policy", str(bad)],
    }


def config_commands(bad: Path) -> Commands:
    """`--config` is read by every command that reads a table."""
    config = ["--config", str(bad)]
    return {
        name: [*config, *args]
        for name, args in orders_commands(VALID / "orders.csv").items()
        if name != "plan-fit"
    }


COMMANDS: dict[str, Callable[[Path], Commands]] = {
    "orders": orders_commands,
    "products": products_commands,
    "customers": plan_with("--customers"),
    "contacts": plan_with("--contacts"),
    "scores": plan_with("--scores"),
    "policy": policy_commands,
    "config": config_commands,
}

CASES = [
    pytest.param(kind, name, fragment, id=f"{kind}/{name}")
    for kind, files in EXPECTED.items()
    for name, fragment in files.items()
]


def check_every_command(kind: str, bad: Path, fragment: str, workdir: Path) -> None:
    before = sorted(workdir.iterdir())
    for label, args in COMMANDS[kind](bad).items():
        outcome = invoke(args)
        try:
            assert_rejected(outcome, bad.name, fragment)
        except AssertionError as failure:
            raise AssertionError(f"`repurchase {label}` on {kind} {bad.name}: {failure}") from None
        assert sorted(workdir.iterdir()) == before, f"{label} left files behind"


@pytest.mark.parametrize(("kind", "name", "fragment"), CASES)
def test_a_corpus_file_is_refused_by_every_command_reading_it(
    kind: str, name: str, fragment: str, workdir: Path
) -> None:
    check_every_command(kind, VALID.parent / kind / name, fragment, workdir)


def huge_field(folder: Path) -> Path:
    """A row whose quoted customer_id is 3 MB long: no CSV block can hold it."""
    path = folder / "huge_field.csv"
    path.write_text(
        "customer_id,ordered_at,amount\nC1,2025-03-01,1\n" + f'"{"x" * 3_000_000}",2025-03-02,1\n'
    )
    return path


def folder_named_csv(folder: Path) -> Path:
    path = folder / "orders.csv"
    path.mkdir()
    return path


def missing_file(folder: Path) -> Path:
    return folder / "no_such_orders.csv"


@pytest.mark.parametrize(
    ("make", "fragment"),
    [(huge_field, ""), (folder_named_csv, "folder"), (missing_file, "not found")],
    ids=["huge_field", "folder_named_csv", "missing_file"],
)
def test_inputs_made_at_run_time_are_refused_by_every_orders_command(
    make: Callable[[Path], Path], fragment: str, workdir: Path, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    check_every_command("orders", make(inputs), fragment, workdir)
    for kind in ("products", "customers", "contacts", "scores", "policy", "config"):
        check_every_command(kind, missing_file(inputs), "not found", workdir)


@pytest.mark.parametrize("kind", ["products", "customers", "contacts", "policy", "config"])
def test_a_folder_in_place_of_any_file_is_refused(kind: str, workdir: Path, tmp_path: Path) -> None:
    folder = tmp_path / f"{kind}.toml" if kind in ("policy", "config") else tmp_path / f"{kind}.csv"
    folder.mkdir()
    check_every_command(kind, folder, "folder", workdir)


def test_the_valid_companions_are_accepted(workdir: Path) -> None:
    """The corpus's other inputs are valid, so a refusal above is the bad file's doing."""
    outcome = invoke(
        [
            "plan",
            *("--orders", str(VALID / "orders.csv"), "--as-of", AS_OF, "--out", "plan.csv"),
            *("--scores", str(VALID / "scores.csv")),
            *("--customers", str(VALID / "customers.csv")),
            *("--contacts", str(VALID / "contacts.csv")),
        ]
    )
    assert (outcome.exit_code, outcome.crash) == (0, None), outcome.stderr
    assert (workdir / "plan.csv").stat().st_size > 0
    outcome = invoke(
        [
            "features",
            *("--orders", str(VALID / "orders.csv"), "--as-of", AS_OF, "--out", "f.csv"),
            *("--products", str(VALID / "products.csv")),
        ]
    )
    assert (outcome.exit_code, outcome.crash) == (0, None), outcome.stderr
    assert (workdir / "f.csv").read_text().count("\n") == 1 + 7  # header + 7 customers by AS_OF


def with_bom(folder: Path) -> Path:
    """Excel writes a UTF-8 byte-order mark before the header."""
    path = folder / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (VALID / "orders.csv").read_bytes())
    return path


def with_cr_line_ends(folder: Path) -> Path:
    """Old Mac line ends: CR only."""
    path = folder / "cr.csv"
    path.write_bytes((VALID / "orders.csv").read_bytes().replace(b"\n", b"\r"))
    return path


def with_text_as_bytes(folder: Path) -> Path:
    """A Parquet writer that stores text as plain bytes (valid UTF-8)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(
        VALID / "orders.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={"customer_id": pa.binary(), "order_id": pa.binary()}
        ),
    )
    path = folder / "bytes.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("make", [with_bom, with_cr_line_ends, with_text_as_bytes])
def test_harmless_variants_of_a_valid_file_give_the_same_features(
    make: Callable[[Path], Path], workdir: Path
) -> None:
    variant = make(workdir.parent)
    for orders, out in ((variant, "variant.csv"), (VALID / "orders.csv", "plain.csv")):
        outcome = invoke(["features", "--orders", str(orders), "--as-of", AS_OF, "--out", out])
        assert (outcome.exit_code, outcome.crash) == (0, None), outcome.stderr
    assert (workdir / "variant.csv").read_text() == (workdir / "plain.csv").read_text()


@pytest.mark.parametrize(
    ("kind", "name", "args"),
    [
        ("orders", "binary_garbage.csv", ["score", "--model", "fit"]),
        ("orders", "truncated.parquet", ["plan", "--scores", str(VALID / "scores.csv")]),
    ],
)
def test_the_installed_command_answers_the_same_in_a_real_process(
    kind: str, name: str, args: list[str], tmp_path: Path
) -> None:
    """A handful through `python -m repurchase`: what a user's shell sees, interpreter and all."""
    bad = tmp_path / name
    shutil.copyfile(VALID.parent / kind / name, bad)
    out = tmp_path / "out.csv"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "repurchase", args[0], "--orders", str(bad)),
            *("--as-of", AS_OF, "--out", str(out), *args[1:]),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_score_date_beyond_pandas_range_is_bad_input(workdir: Path) -> None:
    """`plan --scores` with a next_purchase_date in the year 3026: exit 2 and one line (the
    score reader lets the date through; the CLI's last line of defence answers it)."""
    scores = (VALID / "scores.csv").read_text().replace("2026-09-24", "3026-09-24", 1)
    path = workdir.parent / "scores_3026.csv"
    path.write_text(scores)
    outcome = invoke(plan_with("--scores")(path)["plan"])
    assert (outcome.exit_code, outcome.crash) == (2, None), outcome.stderr
    assert len(outcome.error_lines()) == 1 and "out of range" in outcome.stderr
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("command", ["features", "score", "plan"])
@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_an_output_path_that_cannot_be_a_file_is_refused_first(
    command: str, where: str, workdir: Path
) -> None:
    (workdir / "taken.csv").mkdir()
    (workdir / "plain.txt").write_text("not a folder")
    out = "taken.csv" if where == "a folder" else "plain.txt/out.csv"
    args = [command, "--orders", str(VALID / "orders.csv"), "--as-of", AS_OF, "--out", out]
    if command == "plan":
        args += ["--scores", str(VALID / "scores.csv")]
    before = sorted(workdir.rglob("*"))
    assert_rejected(invoke(args), out.split("/")[-1])
    assert sorted(workdir.rglob("*")) == before
