"""The input contract: read `orders`, `products`, `customers` and `contacts` files.

Every reader returns a frame with canonical column names and types, or raises
:class:`~features.errors.InputError` naming the file, the column and an example row. This is
the only place where raw files are validated; everything downstream trusts these frames.

Canonical types:

- identifiers (`customer_id`, `order_id`, `sku`) are strings;
- timestamps are ``datetime64[ns, UTC]`` (naive input means UTC; a column mixing naive and
  offset timestamps is ambiguous and refused);
- money and quantities are ``float64``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.errors import InputError
from features.prepared import FINGERPRINT_BASE, has_repeats, string_fingerprints
from features.threads import pool_for

ORDER_STATUSES = ("paid", "refunded", "cancelled")
CHANNELS = ("email", "sms", "wechat")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
# order columns with few distinct values, read from Parquet as categoricals
ORDER_DICTIONARY_COLUMNS = frozenset({"sku", "channel", "status"})
PARQUET_SUFFIXES = (".parquet", ".pq")
MAX_IDENTIFIER_LENGTH = 128  # as the API's Identifier: every id in a file can be sent to it

ColumnMap = Mapping[str, str]

# Identifier columns are always read as text: "00001" is a customer, not the number 1.
_TEXT_COLUMNS = {
    "customer_id",
    "order_id",
    "sku",
    "channel",
    "status",
    "category",
    "timezone",
    "preferred_channel",
    "campaign",
}
_TZ_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2})$"
_EARLIEST = pd.Timestamp("1900-01-01", tz="UTC")
_LATEST = pd.Timestamp("2200-01-01", tz="UTC")


# --------------------------------------------------------------------------- public readers


def read_orders(path: str | Path, column_map: ColumnMap | None = None) -> pd.DataFrame:
    """Read an orders file into the canonical orders frame.

    Required columns: ``customer_id``, ``ordered_at``, ``amount``. Optional: ``order_id``,
    ``sku``, ``quantity`` (1), ``discount`` (0), ``channel``, ``status`` (``paid``),
    ``prompted`` (the order answered a message: see ``features.prompted``). Without
    ``order_id`` each row is its own order. Rows repeating an ``order_id`` + ``sku`` pair are
    counted once.
    """
    return canonical_orders(
        _read_file(path, column_map, dictionary_columns=ORDER_DICTIONARY_COLUMNS), source=path
    )


def canonical_orders(frame: pd.DataFrame, source: str | Path = "orders") -> pd.DataFrame:
    """Validate an in-memory orders frame (an API request, a notebook) like a file.

    `source` names the data in error messages. Returns the canonical orders frame.
    """
    path = source
    if frame.empty:
        raise InputError("has no orders", path=path)
    frame = frame.reset_index(drop=True)
    _require(frame, ["customer_id", "ordered_at", "amount"], path)
    out = pd.DataFrame(index=frame.index)
    out["customer_id"] = _identifier(frame, "customer_id", path)
    out["ordered_at"] = _timestamp(frame, "ordered_at", path)
    out["amount"] = _number(frame, "amount", path)
    has_order_id = "order_id" in frame.columns
    if has_order_id:
        out["order_id"] = _identifier(frame, "order_id", path)
    else:
        out["order_id"] = pd.Series(np.arange(len(frame)), index=frame.index).astype("string")
    out["sku"] = _optional_text(frame, "sku")
    out["quantity"] = _number(frame, "quantity", path, default=1.0, minimum=0.0)
    out["discount"] = _number(frame, "discount", path, default=0.0, minimum=0.0)
    out["channel"] = _optional_text(frame, "channel", lower=True)
    out["status"] = _status(frame, path)
    if "prompted" in frame.columns:  # kept only when given: most shops do not know it
        out["prompted"] = _boolean(frame, "prompted", path)
    if has_order_id:
        out = _drop_repeated_lines(out)
    return out.reset_index(drop=True)


def iter_order_frames(
    path: str | Path, column_map: ColumnMap | None = None, batch_rows: int = 1_000_000
) -> Iterator[pd.DataFrame]:
    """Read an orders file in batches of about `batch_rows` rows, each a canonical frame.

    The streaming twin of :func:`read_orders` (same checks, same messages), for files that
    do not fit in memory: the whole file is never one frame. Repeated ``order_id`` + ``sku``
    pairs are dropped inside a batch only; apply :func:`drop_repeated_lines` to the rows of
    one customer set (e.g. a partition) to drop the rest. Without ``order_id`` each row gets
    its row number in the file, as in :func:`read_orders`. Error row numbers count from the
    start of the batch.
    """
    offset = 0
    for frame in _iter_raw_batches(path, column_map, batch_rows):
        if "order_id" not in frame.columns:
            numbers = np.arange(offset, offset + len(frame))
            frame["order_id"] = pd.Series(numbers, index=frame.index).astype("string")
        offset += len(frame)
        yield canonical_orders(frame, source=path)
    if offset == 0:
        raise InputError("file has a header but no rows", path=path)


def drop_repeated_lines(orders: pd.DataFrame) -> pd.DataFrame:
    """Keep the first row of each (order_id, sku) pair of a canonical orders frame."""
    return _drop_repeated_lines(orders).reset_index(drop=True)


def _drop_repeated_lines(orders: pd.DataFrame) -> pd.DataFrame:
    """Keep the first row of each (order_id, sku) pair.

    Hashing millions of id strings (``drop_duplicates``) is slow, so the pairs are first
    compared by 64-bit fingerprints: a row whose fingerprint no other row shares cannot be a
    repeat. Only rows with a shared fingerprint (usually none) are compared as text. When no
    order id repeats at all (one row per order, common), no pair can, and the SKUs are not
    looked at.
    """
    pair = string_fingerprints(orders["order_id"])
    if not has_repeats(pair):
        return orders
    pair ^= string_fingerprints(orders["sku"]) * FINGERPRINT_BASE  # unequal weights: (a,b) != (b,a)
    if not has_repeats(pair):
        return orders
    shared = pd.Series(pair).duplicated(keep=False).to_numpy()
    repeated = orders.loc[shared, ["order_id", "sku"]].duplicated(keep="first")
    return orders.drop(index=repeated.index[repeated.to_numpy()])


def read_products(path: str | Path, column_map: ColumnMap | None = None) -> pd.DataFrame:
    """Read a products file: ``sku`` (required, unique), ``category``, ``days_of_supply`` (> 0)."""
    frame = _read_file(path, column_map)
    _require(frame, ["sku"], path)
    out = pd.DataFrame(index=frame.index)
    out["sku"] = _identifier(frame, "sku", path)
    out["category"] = _optional_text(frame, "category")
    out["days_of_supply"] = _number(frame, "days_of_supply", path, default=np.nan, minimum=0.0)
    out = out.drop_duplicates(subset=["sku"], keep="last")
    return out.reset_index(drop=True)


def read_customers(path: str | Path, column_map: ColumnMap | None = None) -> pd.DataFrame:
    """Read a customers file.

    ``customer_id`` (required, unique), ``timezone`` (IANA name, default UTC),
    ``consent_email``/``consent_sms``/``consent_wechat`` (booleans; absent = no consent),
    ``preferred_channel``, ``birthday``; any other columns are kept as free-form tags.
    """
    frame = _read_file(path, column_map)
    _require(frame, ["customer_id"], path)
    out = frame.copy()
    out["customer_id"] = _identifier(frame, "customer_id", path)
    out["timezone"] = _timezone(frame, path)
    for channel in CHANNELS:
        out[f"consent_{channel}"] = _boolean(frame, f"consent_{channel}", path)
    out["preferred_channel"] = _optional_text(frame, "preferred_channel", lower=True)
    if "birthday" in frame.columns:
        out["birthday"] = _timestamp(frame, "birthday", path, required=False)
    out = out.drop_duplicates(subset=["customer_id"], keep="last")
    return out.reset_index(drop=True)


def read_contacts(path: str | Path, column_map: ColumnMap | None = None) -> pd.DataFrame:
    """Read a touch history: ``customer_id``, ``contacted_at`` (required), ``channel``, ``campaign``."""
    frame = _read_file(path, column_map)
    _require(frame, ["customer_id", "contacted_at"], path)
    out = pd.DataFrame(index=frame.index)
    out["customer_id"] = _identifier(frame, "customer_id", path)
    out["contacted_at"] = _timestamp(frame, "contacted_at", path)
    out["channel"] = _optional_text(frame, "channel", lower=True)
    out["campaign"] = _optional_text(frame, "campaign")
    return out.reset_index(drop=True)


def paid_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Only the rows that count as purchases (status ``paid``)."""
    return orders.loc[orders["status"] == "paid"]


# --------------------------------------------------------------------------- file reading


def _read_file(
    path: str | Path,
    column_map: ColumnMap | None,
    dictionary_columns: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """The file as a frame, columns renamed by `column_map`; the canonical
    `dictionary_columns` of a Parquet file come as pandas categoricals."""
    path = Path(path)
    _check_file(path)  # exists, not a folder, not empty, a known file type
    is_csv = path.name.lower().endswith(CSV_SUFFIXES)
    if is_csv:
        frame = _read_csv(path)
    else:
        renamed = {target: source for source, target in (column_map or {}).items()}
        frame = _read_parquet(path, {renamed.get(name, name) for name in dictionary_columns})
    frame.columns = [str(c).strip() for c in frame.columns]
    if column_map:
        frame = frame.rename(columns={k: v for k, v in column_map.items() if k in frame.columns})
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise InputError(f"column '{duplicated[0]}' appears twice", path=path)
    if frame.empty:
        raise InputError("file has a header but no rows", path=path)
    frame.attrs["path"] = str(path)
    return frame


def _iter_raw_batches(
    path: str | Path, column_map: ColumnMap | None, batch_rows: int
) -> Iterator[pd.DataFrame]:
    """The file's rows in batches, columns renamed and checked as by :func:`_read_file`.

    CSV columns are read as text (the canonical readers parse them): a type guessed from the
    first block could not hold a later one.
    """
    path = Path(path)
    _check_file(path)
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        batches = _csv_batches(path, batch_rows)
    else:
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(
                f"is not a readable Parquet file ({_first_line(exc)})", path=path
            ) from None
        batches = parquet.iter_batches(batch_size=batch_rows)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, OSError) as exc:
            raise InputError(_arrow_reason(exc), path=path) from None
        if batch.num_rows == 0:
            continue
        batch = _as_text_columns(batch, path)
        try:
            frame = batch.to_pandas()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
            raise InputError(
                f"has a column pandas cannot hold ({_first_line(exc)})", path=path
            ) from None
        frame.columns = [str(c).strip() for c in frame.columns]
        if column_map:
            frame = frame.rename(
                columns={k: v for k, v in column_map.items() if k in frame.columns}
            )
        duplicated = frame.columns[frame.columns.duplicated()].tolist()
        if duplicated:
            raise InputError(f"column '{duplicated[0]}' appears twice", path=path)
        yield frame


def _csv_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    header = _csv_header(path)
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=max(batch_rows, 1) * 64),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=True
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as exc:
        raise InputError(_arrow_reason(exc), path=path) from None
    except (OSError, EOFError) as exc:  # a truncated or corrupt .gz, an I/O error
        raise InputError(f"cannot be read ({_first_line(exc)})", path=path) from None
    yield from reader


def _check_file(path: Path) -> None:
    """The checks every reader makes before opening a file."""
    name = path.name.lower()
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.is_dir():
        raise InputError("is a folder, expected a CSV or Parquet file", path=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=path)
    if not name.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        raise InputError(
            f"unknown file type '{path.suffix or name}': use .csv, .csv.gz, .tsv or .parquet",
            path=path,
        )


def _read_csv(path: Path) -> pd.DataFrame:
    header = _csv_header(path)
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    text_columns = {c: pa.string() for c in header if c.strip() in _TEXT_COLUMNS}
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=text_columns, strings_can_be_null=True
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as exc:
        raise InputError(_arrow_reason(exc), path=path) from None
    except (OSError, EOFError) as exc:  # a truncated or corrupt .gz, an I/O error
        raise InputError(f"cannot be read ({_first_line(exc)})", path=path) from None
    for field in table.schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            raise InputError(
                "is not UTF-8 text; re-export the file as UTF-8", path=path, column=field.name
            )
    return _one_chunk_per_column(_as_text_columns(table, path)).to_pandas()


def _as_text_columns(table: Any, path: Path) -> Any:
    """`table` (a pyarrow Table or RecordBatch) with byte columns decoded as UTF-8 text.

    Some Parquet writers store text as plain bytes; those are decoded, and bytes that are not
    UTF-8 are refused. A NUL byte is never text either: it marks a binary or corrupted export,
    and PostgreSQL cannot store it, so the file is refused here rather than half-loaded later.
    """
    columns = []
    for index, field in enumerate(table.schema):  # by position: names may repeat here
        column = table.column(index)
        if pa.types.is_dictionary(field.type):
            if _dictionary_holds_nul(column):
                raise InputError(
                    "contains NUL bytes; is this a text export?", path=path, column=field.name
                )
            if not _is_text_type(field.type.value_type):  # bytes or numbers: decoded
                column = column.cast(field.type.value_type)
                field = pa.field(field.name, column.type)
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            try:
                column = pc.cast(column, pa.string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                raise InputError(
                    "is not UTF-8 text; re-export the file as UTF-8", path=path, column=field.name
                ) from None
        if (
            (pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
            and _may_hold_nul(column)
            and pc.any(pc.match_substring(column, "\x00")).as_py()
        ):
            raise InputError(
                "contains NUL bytes; is this a text export?", path=path, column=field.name
            )
        columns.append(column)
    return type(table).from_arrays(columns, names=table.schema.names)


def _is_text_type(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _dictionary_holds_nul(column: Any) -> bool:
    """Whether a dictionary column's text values (not its millions of rows) hold a NUL."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return any(
        _is_text_type(chunk.dictionary.type)
        and _may_hold_nul(chunk.dictionary)
        and pc.any(pc.match_substring(chunk.dictionary, "\x00")).as_py()
        for chunk in chunks
    )


def _one_chunk_per_column(table: pa.Table) -> pa.Table:
    """`table` with each column one contiguous array, text as ``large_string``.

    pandas holds text as ``large_string`` and would convert the file's row-group chunks
    itself; joined once here, the id columns are later scanned, fingerprinted and sorted
    (``features.prepared``) without a copy per step.
    """
    # Arrow copies without the GIL: the id columns (the big ones) are joined side by side
    with pool_for(table.num_rows, max_workers=2) as pool:
        joined = list(pool.map(_one_chunk, table.columns))
    return pa.Table.from_arrays(joined, names=table.schema.names)


def _one_chunk(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column  # pandas unifies the chunks' dictionaries into one categorical
    if pa.types.is_string(column.type):
        column = column.cast(pa.large_string())
    if column.num_chunks != 1:
        column = pa.chunked_array([column.combine_chunks()], type=column.type)
    return column


def _csv_header(path: Path) -> list[str]:
    opener = _gzip_open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            first = raw.readline()
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text; re-export the file as UTF-8", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc})", path=path) from None
    line = (line.splitlines() or [""])[0]  # a file with old Mac (CR) line ends is one "line"
    if not line.strip():
        raise InputError("file is empty or has no header line", path=path)
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    try:
        return next(csv.reader(io.StringIO(line), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(f"has an unreadable header line ({exc})", path=path) from None


def _gzip_open(path: Path, mode: str) -> Any:
    import gzip

    return gzip.open(path, mode)


def _read_parquet(path: Path, dictionary_columns: set[str] | None = None) -> pd.DataFrame:
    """The Parquet file as a frame; `dictionary_columns` (when present) as categoricals.

    A few distinct values repeated over millions of rows (SKU, channel, status) are decoded
    straight into codes and a small dictionary: on 10M orders that read in 1.4 s instead of
    2.5 s, and held 38 MB instead of 380 MB, and every later check and encoding of those
    columns looks at the distinct values only.
    """
    try:
        names = set(pq.read_schema(path).names)
        table = pq.read_table(path, read_dictionary=sorted(names & (dictionary_columns or set())))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise InputError(
            f"is not a readable Parquet file ({_first_line(exc)})", path=path
        ) from None
    table = _one_chunk_per_column(_as_text_columns(table, path))
    try:
        frame = table.to_pandas()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise InputError(
            f"has a column pandas cannot hold ({_first_line(exc)})", path=path
        ) from None
    del table
    # Arrow's allocator keeps freed blocks for reuse; the file's decoded pages and chunk
    # copies are not reused by pandas or numpy, so they go back to the system before the
    # feature build needs the room
    pa.default_memory_pool().release_unused()
    return frame


def _arrow_reason(exc: Exception) -> str:
    text = _first_line(exc)
    if "UTF8" in text or "utf-8" in text.lower():
        return "is not UTF-8 text; re-export the file as UTF-8"
    if "Empty CSV file" in text:
        return "file is empty"
    return f"is not a well-formed CSV file ({text})"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --------------------------------------------------------------------------- byte scans
#
# Stripping, lowercasing and regex checks cost a pass of string kernels per column, about a
# second per id column of 10M rows, and in real exports almost never change or find anything.
# A scan of the UTF-8 bytes behind an Arrow-backed column (min/max reductions, a gather of
# each value's first and last byte) proves most of them unnecessary in a few milliseconds.
# The scans only ever answer "nothing to do"; anything they cannot rule out goes through the
# string kernels, which also name the bad rows.


def _is_plain_text(
    values: pd.Series,
    *,
    missing_ok: bool = False,
    lowercase: bool = False,
    max_bytes: int | None = None,
) -> bool:
    """Whether stripping, blank and control-character checks would leave `values` as it is.

    True only for an Arrow-backed text column whose present values are not empty, neither
    start nor end with whitespace (any byte <= 0x20 or >= 0x7F is treated as possible
    whitespace, so non-ASCII edges count too), hold no control character (bytes 0x00-0x1F,
    0x7F: in UTF-8 these bytes occur only as those characters), have at most `max_bytes`
    bytes (so at most as many characters) and, with `lowercase`, hold only ASCII without
    capitals (``str.lower`` changes nothing). Missing values are allowed with `missing_ok`.
    """
    chunks = _string_chunks(values)
    if chunks is None:
        return False
    for chunk in chunks:
        if chunk.null_count and not missing_ok:
            return False
        offsets, data = _chunk_bytes(chunk)
        starts, ends = offsets[:-1], offsets[1:]
        if chunk.null_count:
            present = chunk.is_valid().to_numpy(zero_copy_only=False)
            starts, ends = starts[present], ends[present]
        lengths = ends - starts
        if len(lengths) == 0:
            continue  # only missing values
        if lengths.min() == 0 or (max_bytes is not None and lengths.max() > max_bytes):
            return False
        if data.min() < 0x20:  # a control character
            return False
        top = int(data.max())
        if top >= 0x7F and (lowercase or (data == 0x7F).any()):
            return False  # DEL, or non-ASCII text that lower() might change
        if lowercase and ((data >= ord("A")) & (data <= ord("Z"))).any():
            return False
        edges = np.concatenate([data[starts], data[ends - 1]])
        if edges.min() <= 0x20 or edges.max() >= 0x7F:
            return False  # may start or end with whitespace
    return True


def _may_hold_nul(column: Any) -> bool:
    """False when no value of an Arrow text column (Array or ChunkedArray) has a NUL byte."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        data = _chunk_bytes(chunk)[1]
        if len(data) and data.min() == 0:
            return True
    return False


def _string_chunks(values: pd.Series) -> list[Any] | None:
    """The Arrow arrays behind a pandas text column; None unless it is Arrow-backed."""
    dtype = values.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    arrow = pa.array(values.array)
    chunks = arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]
    if not all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
        return None
    return list(chunks)


def _chunk_bytes(chunk: Any) -> tuple[np.ndarray, np.ndarray]:
    """Value offsets (from 0) and the UTF-8 bytes they index, of an Arrow string array."""
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    itemsize = np.dtype(width).itemsize
    buffers = chunk.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=width, count=len(chunk) + 1, offset=chunk.offset * itemsize
    ).astype(np.int64, copy=False)
    start, end = int(offsets[0]), int(offsets[-1])
    if start:  # a slice: rebase (a copy), else the offsets are used in place
        offsets = offsets - start
    if buffers[2] is None:
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(buffers[2], dtype=np.uint8)[start:end]


# --------------------------------------------------------------------------- column checks


def _require(frame: pd.DataFrame, columns: list[str], path: str | Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns[:12]))
        raise InputError(
            f"required column '{missing[0]}' is missing (found: {found}); "
            "rename it or map it in the [columns] section of the config",
            path=path,
        )


def _fail(frame: pd.DataFrame, mask: pd.Series, column: str, path: str | Path, why: str) -> None:
    position = int(np.flatnonzero(mask.to_numpy())[0])
    row = {str(k): v for k, v in frame.iloc[position].to_dict().items()}
    raise InputError(
        f"{why}; {int(mask.sum())} bad row(s)",
        path=path,
        column=column,
        row_number=position + 2,  # 1-based, after the header line
        row=row,
    )


def _identifier(frame: pd.DataFrame, column: str, path: str | Path) -> pd.Series:
    values = frame[column]
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        values = values.astype("string")
    values = values.astype("string")
    if _is_plain_text(values, max_bytes=MAX_IDENTIFIER_LENGTH):
        return values  # stripping and the checks below would find nothing
    values = values.str.strip()
    missing = values.isna() | (values == "")
    if missing.any():
        _fail(frame, missing, column, path, "has empty values")
    # As in the API: an id with a line break or another control character, or longer than
    # the API accepts, is a broken export (a shifted column, a pasted document).
    control = values.str.contains(r"[\x00-\x1f\x7f]", regex=True)
    if control.any():
        _fail(frame, control, column, path, "has control characters (line break, tab, NUL...)")
    too_long = values.str.len() > MAX_IDENTIFIER_LENGTH
    if too_long.any():
        _fail(frame, too_long, column, path, f"is longer than {MAX_IDENTIFIER_LENGTH} characters")
    return values


def _optional_text(frame: pd.DataFrame, column: str, *, lower: bool = False) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    if isinstance(frame[column].dtype, pd.CategoricalDtype):
        return _per_category(frame[column], lambda text: _optional_text(text, column, lower=lower))
    values = frame[column].astype("string")
    if _is_plain_text(values, missing_ok=True, lowercase=lower):
        return values  # nothing to strip, blank or lowercase
    values = values.str.strip()
    values = values.mask(values == "")
    return values.str.lower() if lower else values


def _per_category(values: pd.Series, clean: Callable[[pd.DataFrame], pd.Series]) -> pd.Series:
    """A categorical text column cleaned by `clean` applied to its categories only.

    `clean` gets a one-column frame of the distinct values (named as `values`) and returns
    them cleaned; values that become equal (``Web`` and ``web`` when lowercased) merge and
    values that become missing drop out. Millions of rows cost one gather of codes.
    """
    name = str(values.name)
    categories = pd.DataFrame({name: pd.Series(values.cat.categories, dtype="string")})
    cleaned = clean(categories)
    new_codes, new_categories = pd.factorize(cleaned)  # missing -> -1
    codes = values.cat.codes.to_numpy()
    lookup = np.append(new_codes, -1).astype(codes.dtype)  # code -1 (missing) stays missing
    categorical = pd.Categorical.from_codes(
        lookup[codes], categories=pd.Index(new_categories, dtype="string")
    )
    return pd.Series(categorical, index=values.index, name=values.name)


def _number(
    frame: pd.DataFrame,
    column: str,
    path: str | Path,
    *,
    default: float | None = None,
    minimum: float | None = None,
) -> pd.Series:
    if column not in frame.columns:
        if default is None:  # pragma: no cover - required columns are checked first
            raise InputError("required column is missing", path=path, column=column)
        return pd.Series(default, index=frame.index, dtype="float64")
    raw = frame[column]
    if pd.api.types.is_bool_dtype(raw):
        _fail(frame, raw.notna(), column, path, "must be a number, found true/false")
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.astype("float64")
        bad = pd.Series(False, index=frame.index)
    else:
        text = raw.astype("string").str.strip()
        values = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = values.isna() & text.notna() & (text != "")
        if bad.any():
            _fail(frame, bad, column, path, "must be a number")
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        _fail(frame, pd.Series(infinite, index=frame.index), column, path, "must be finite")
    if default is None:
        empty = values.isna()
        if empty.any():
            _fail(frame, empty, column, path, "has empty values")
    elif not np.isnan(default):
        values = values.fillna(default)
    if minimum is not None:
        below = values < minimum
        if below.any():
            _fail(frame, below, column, path, f"must be >= {minimum:g}")
    del bad
    return values


def _timestamp(
    frame: pd.DataFrame, column: str, path: str | Path, *, required: bool = True
) -> pd.Series:
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        values = pd.Series(raw)
        values = (
            values.dt.tz_convert("UTC")
            if values.dt.tz is not None
            else values.dt.tz_localize("UTC")
        )
    else:
        text = raw.astype("string").str.strip()
        present = text.notna() & (text != "")
        values = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        bad = values.isna() & present
        if bad.any():
            _fail(frame, bad, column, path, "must be an ISO 8601 date or timestamp (YYYY-MM-DD)")
        with_zone = text.str.contains(_TZ_SUFFIX, regex=True, na=False)
        if with_zone.any() and (present & ~with_zone).any():
            _fail(
                frame,
                present & ~with_zone,
                column,
                path,
                "mixes timestamps with and without a UTC offset; give every row an offset or none",
            )
    # Nanosecond timestamps end in 2262; before 1900 or after 2200 is a typo (as in the API).
    outside = (values < _EARLIEST) | (values > _LATEST)
    if outside.any():
        _fail(frame, outside, column, path, "must be between 1900-01-01 and 2200-01-01")
    values = values.astype("datetime64[ns, UTC]")
    if required and values.isna().any():
        _fail(frame, values.isna(), column, path, "has empty values")
    return values


def _status(frame: pd.DataFrame, path: str | Path) -> pd.Series:
    if "status" not in frame.columns:
        return pd.Series("paid", index=frame.index, dtype="string")
    if isinstance(frame["status"].dtype, pd.CategoricalDtype):
        statuses = frame["status"]
        if statuses.isna().any():  # a missing status is a paid order, as in text
            if "paid" not in statuses.cat.categories:
                statuses = statuses.cat.add_categories(["paid"])
            statuses = statuses.fillna("paid")
        try:
            return _per_category(statuses, lambda text: _status(text, path))
        except InputError:
            pass  # an unknown status: the text path below names its first row in the file
    values = frame["status"].astype("string")
    if not _is_plain_text(values, lowercase=True):
        values = values.str.strip().str.lower().fillna("paid")
        values = values.mask(values == "", "paid")
    unknown = ~values.isin(ORDER_STATUSES)
    if unknown.any():
        _fail(frame, unknown, "status", path, f"must be one of {', '.join(ORDER_STATUSES)}")
    return values


_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0", ""}


def _boolean(frame: pd.DataFrame, column: str, path: str | Path) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index, dtype="bool")
    raw = frame[column]
    if pd.api.types.is_bool_dtype(raw):
        return raw.fillna(False).astype("bool")
    text = raw.astype("string").str.strip().str.lower().fillna("")
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        _fail(frame, bad, column, path, "must be true/false (or yes/no, 1/0)")
    return text.isin(_TRUE).astype("bool")


def _timezone(frame: pd.DataFrame, path: str | Path) -> pd.Series:
    if "timezone" not in frame.columns:
        return pd.Series("UTC", index=frame.index, dtype="string")
    values = frame["timezone"].astype("string").str.strip().fillna("UTC")
    values = values.mask(values == "", "UTC")
    known = {name: _is_zone(name) for name in values.unique()}
    bad = ~values.map(known).astype(bool)
    if bad.any():
        _fail(frame, bad, "timezone", path, "must be an IANA time zone such as Asia/Shanghai")
    return values


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
