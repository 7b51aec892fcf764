"""Hypothesis-made bad files: mutations of the valid corpus companions through the commands.

A mutation drops a column, puts junk in a cell, shuffles a run of bytes, inserts bytes or
cuts the file. Some mutations leave a valid file (junk in an optional column may be fine), so
the property is "exit 0 with the output written, or exit 2 with one line naming the file and
nothing written" — never a crash, a traceback, another exit code or a half-written output.
Derandomized: the same examples run every time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .conftest import AS_OF, VALID, Outcome, assert_rejected, invoke

JUNK = [
    "",
    "abc",
    "NaN",
    "-1",
    "1e999",
    "2025-13-01",
    "2025-01-01T25:00:00",
    "\x00",
    "José",
    '"',
    ",",
    "\n",
    "true",
    "0x10",
    "9" * 40,
    "+08:00",
    " ",
]

Mutation = Callable[[bytes], bytes]


def _lines(data: bytes) -> list[list[bytes]]:
    return [line.split(b",") for line in data.split(b"\n")]


def _join(rows: list[list[bytes]]) -> bytes:
    return b"\n".join(b",".join(fields) for fields in rows)


@st.composite
def drop_column(draw: st.DrawFn) -> Mutation:
    index = draw(st.integers(0, 20))

    def mutate(data: bytes) -> bytes:
        rows = _lines(data)
        return _join([[f for i, f in enumerate(r) if i != index % max(len(r), 1)] for r in rows])

    return mutate


@st.composite
def junk_cell(draw: st.DrawFn) -> Mutation:
    row, column = draw(st.integers(0, 50)), draw(st.integers(0, 20))
    junk = draw(st.sampled_from(JUNK) | st.text(max_size=6)).encode("utf-8", "surrogatepass")

    def mutate(data: bytes) -> bytes:
        rows = _lines(data)
        fields = rows[row % len(rows)]
        fields[column % len(fields)] = junk
        return _join(rows)

    return mutate


@st.composite
def shuffle_bytes(draw: st.DrawFn) -> Mutation:
    start = draw(st.integers(0, 4000))
    order = draw(st.permutations(range(draw(st.integers(2, 24)))))

    def mutate(data: bytes) -> bytes:
        begin = start % max(len(data) - len(order), 1)
        chunk = data[begin : begin + len(order)]
        shuffled = bytes(chunk[i] for i in order if i < len(chunk))
        return data[:begin] + shuffled + data[begin + len(chunk) :]

    return mutate


@st.composite
def insert_bytes(draw: st.DrawFn) -> Mutation:
    at, extra = draw(st.integers(0, 4000)), draw(st.binary(min_size=1, max_size=8))
    return lambda data: data[: at % (len(data) + 1)] + extra + data[at % (len(data) + 1) :]


@st.composite
def cut(draw: st.DrawFn) -> Mutation:
    at = draw(st.integers(0, 4000))
    return lambda data: data[: at % (len(data) + 1)]


MUTATIONS = st.lists(
    st.one_of(drop_column(), junk_cell(), shuffle_bytes(), insert_bytes(), cut()),
    min_size=1,
    max_size=3,
)
EXAMPLES = settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def mutated(name: str, mutations: list[Mutation], folder: Path) -> Path:
    data = (VALID / name).read_bytes()
    for mutate in mutations:
        data = mutate(data)
    path = folder / f"mutated_{name}"
    path.write_bytes(data)
    return path


def check(outcome: Outcome, bad: Path, out: Path) -> None:
    """Exit 0 with the output written, or a clean rejection with nothing written."""
    assert outcome.crash is None, f"crashed: {outcome.crash!r}"
    event(f"exit {outcome.exit_code}")  # --hypothesis-show-statistics: accepted vs refused
    if outcome.exit_code == 0:
        assert out.exists() and out.stat().st_size > 0
        return
    assert_rejected(outcome, bad.name)
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir()] == [bad.name]  # no temporary leftovers


def plan_args(folder: Path, **inputs: Path) -> list[str]:
    files = {
        "orders": VALID / "orders.csv",
        "scores": VALID / "scores.csv",
        "customers": VALID / "customers.csv",
        "contacts": VALID / "contacts.csv",
    } | inputs
    args = ["plan", "--as-of", AS_OF, "--out", str(folder / "plan.csv")]
    for option, path in files.items():
        args += [f"--{option}", str(path)]
    return args


@EXAMPLES
@given(mutations=MUTATIONS)
def test_mutated_orders(mutations: list[Mutation]) -> None:
    """features and plan accept or cleanly refuse; a file they refuse, train/backtest/score
    refuse too (they read orders with the same contract)."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        bad = mutated("orders.csv", mutations, folder)
        out = folder / "features.csv"
        features = invoke(["features", "--orders", str(bad), "--as-of", AS_OF, "--out", str(out)])
        check(features, bad, out)
        if features.exit_code == 0:
            out.unlink()
            check(invoke(plan_args(folder, orders=bad)), bad, folder / "plan.csv")
            return
        for args in (
            ["train", "--orders", str(bad), "--as-of", AS_OF],
            ["backtest", "--orders", str(bad), "--as-of", AS_OF, "--metrics", str(out)],
            ["score", "--orders", str(bad), "--as-of", AS_OF, "--out", str(out), "--model", "fit"],
        ):
            assert_rejected(invoke(args), bad.name)
            assert [p.name for p in folder.iterdir()] == [bad.name]


@pytest.mark.parametrize("kind", ["customers", "contacts", "scores"])
@EXAMPLES
@given(mutations=MUTATIONS)
def test_mutated_plan_inputs(kind: str, mutations: list[Mutation]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        bad = mutated(f"{kind}.csv", mutations, folder)
        check(invoke(plan_args(folder, **{kind: bad})), bad, folder / "plan.csv")


@EXAMPLES
@given(mutations=MUTATIONS)
def test_mutated_products(mutations: list[Mutation]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        bad = mutated("products.csv", mutations, folder)
        out = folder / "features.csv"
        args = ["features", "--orders", str(VALID / "orders.csv"), "--products", str(bad)]
        check(invoke([*args, "--as-of", AS_OF, "--out", str(out)]), bad, out)
