"""Whatever the link key file holds, `init` says one French line (exit 2) or accepts a real key; never a traceback.

The key file is read by every command that opens the store (store/links.py): a truncated copy, a key
pasted with spaces, a file of the wrong kind are refused before anything is created or changed.
"""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CALENDARS, invoke
from tests.support.fuzz import STATS, fuzz_settings

HEX = st.text(alphabet="0123456789abcdefABCDEF", min_size=60, max_size=68)
CONTENT = st.one_of(
    st.binary(max_size=200),
    HEX.map(lambda h: h.encode()),
    st.tuples(HEX, st.sampled_from(["", "\n", "\r\n", " ", "\t\n", "\x00", "é"])).map(lambda t: (t[0] + t[1]).encode()),
)


@fuzz_settings(60)
@given(content=CONTENT)
def test_any_key_file_is_accepted_as_a_key_or_refused_in_one_french_line(tmp_path_factory, content: bytes) -> None:
    folder: Path = tmp_path_factory.mktemp("key")
    key_file, db = folder / "cnam.key", folder / "cnam.db"
    key_file.write_bytes(content)
    STATS["inputs"] += 1
    r = invoke("--calendars", str(CALENDARS), "init", "--db", str(db))
    text = content.decode("ascii", errors="replace").strip()
    is_key = len(text) == 64 and all(c in string.hexdigits for c in text)
    if "Traceback" in r.stderr or r.exception and not isinstance(r.exception, SystemExit):
        STATS["tracebacks"] += 1
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    if is_key:
        assert r.exit_code == 0, r.stderr
        assert "existante, gardée" in r.stdout and key_file.read_bytes() == content  # never rewritten
    else:
        if r.exit_code == 0:
            STATS["accepted"] += 1
        assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
        assert f"{key_file} : ce fichier n'est pas une clé des liens" in r.stderr
        assert not db.exists()  # nothing half-made
