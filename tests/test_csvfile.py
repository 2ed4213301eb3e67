"""The one CSV reader: every input CSV gets the same checks and one-line errors."""

import pytest

from ns3_mfs.config import ConfigError
from ns3_mfs.csvfile import Column, read_matrix, read_table

COLS = (Column("n", "int", min=0, max=9), Column("x", gt=0.0), Column("note", lambda t: t.upper(), required=False))


def test_a_table_is_read_by_header_name_with_bom_comments_and_extra_columns(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes("\ufeffx,extra,n\n# a comment\n\n0.5,?,3\n2,,9\n".encode())
    assert read_table(p, COLS) == [{"x": 0.5, "n": 3}, {"x": 2.0, "n": 9}]
    assert read_table(p, COLS, limit=1) == [{"x": 0.5, "n": 3}]


@pytest.mark.parametrize("text,message", [
    ("n,x\n3,abc\n", "t.csv line 2: x: expected a number, got 'abc'"),
    ("n,x\n3.5,1\n", "t.csv line 2: n: expected an integer, got '3.5'"),
    ("n,x\n12,1\n", "t.csv line 2: n: 12 is out of range; allowed: 0..9"),
    ("n,x\n1,0\n", "t.csv line 2: x: must be > 0, got '0'"),
    ("n,x\n1,inf\n", "t.csv line 2: x: must be a finite number, got 'inf'"),
    ("n,x\n1,2,3\n", "t.csv line 2: 3 fields; expected 2 (n,x)"),
    ("n\n1\n", "t.csv line 1: missing column 'x'"),
    ("n,x\n", "t.csv line 1: at least one data row after this header line, got 0"),
    ("\n\n", "t.csv line 1: empty file"),
    ("n,x,y\n1,2,3\n", "t.csv line 1: the header line must name exactly the columns n, x"),
    ("n,x\n1," + "9" * 200_000 + "\n", "t.csv line 2: x: must be a finite number"),
])
def test_bad_tables_get_one_line_naming_key_file_line_and_column(tmp_path, text, message):
    p = tmp_path / "t.csv"
    p.write_text(text)
    cols = COLS[:2]
    with pytest.raises(ConfigError) as exc:
        read_table(p, cols, key="some.key", exact="exactly" in message)
    msg = str(exc.value)
    assert msg.startswith(f"some.key: {p}") and message in msg and "\n" not in msg and len(msg) < 400, msg


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.csv", "cannot read file"),
    (lambda d: d, "not a regular file"),
    (lambda d: __import__("pathlib").Path("/dev/zero"), "not a regular file"),
])
def test_unreadable_and_special_files_are_refused(tmp_path, make, message):
    with pytest.raises(ConfigError, match=message):
        read_table(make(tmp_path), COLS)


def test_binary_and_non_utf8_files_name_the_line(tmp_path):
    p = tmp_path / "b.csv"
    p.write_bytes(b"n,x\n1,2\n\x00\x01")
    with pytest.raises(ConfigError, match=r"b\.csv line 3: not a text CSV file \(contains NUL bytes\)"):
        read_table(p, COLS)
    p.write_bytes(b"n,x\n\xff\xfe,2\n")
    with pytest.raises(ConfigError, match=r"b\.csv line 2: not a text \(UTF-8\) CSV file"):
        read_table(p, COLS)


def test_matrix(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("# routing\n1,2\n3,4\n")
    assert read_matrix(p).tolist() == [[1, 2], [3, 4]]
    p.write_text("1,2\n3\n")
    with pytest.raises(ConfigError, match="rectangular"):
        read_matrix(p, "k")
    p.write_text("1,x\n")
    with pytest.raises(ConfigError, match=r"k: .*m\.csv line 1: expected comma-separated numbers"):
        read_matrix(p, "k")
