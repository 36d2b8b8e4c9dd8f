"""`year new` and `diff` on odd arguments, mutated centre files and mutated manifests: never a traceback.

`year new` either adds its table (the file then reads back with the year, and is the old file with
one block inserted) or refuses and leaves the file as it was; `diff` answers 0, or 2 with one error.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.inputs.config import load_centre
from tests.conftest import CALENDARS, EPOCH, invoke
from tests.fuzz.test_fuzz_rule_files import TOML, _no_traceback, blind
from tests.support.fuzz import STATS, fuzz_settings

CENTRE = "ipst-cnam"
ODD_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "-", "--help", "ipst-cnam ", "IPST-CNAM",
                                                            "../ipst-cnam", "ipst-cnam\x00", "²", "example"]))
ODD_YEAR = st.one_of(st.integers(-10, 3000).map(str), ODD_TEXT,
                     st.sampled_from(["2029", "2030", "2026", "1999", "2100", "2000", "2099", "٢٠٢٩", "2029.0"]))


def _copy(directory: Path, toml: str | None = None) -> Path:
    calendars = directory / "calendars"
    calendars.mkdir()
    for path in CALENDARS.glob("*.toml"):
        shutil.copy(path, calendars / path.name)
    if toml is not None:
        (calendars / f"{CENTRE}.toml").write_text(toml, encoding="utf-8", errors="surrogatepass")
    return calendars


def _year_new(calendars: Path, centre: str, year: str) -> int:
    path = calendars / f"{CENTRE}.toml"
    before = path.read_bytes()
    args = ["year", "new", "--centre", centre, "--year", year]
    result = invoke("--calendars", str(calendars), *args)
    _no_traceback(result, args)
    after = path.read_bytes()
    if result.exit_code == 0:
        assert after.startswith(before.rstrip(b"\n")) and len(after) > len(before), "only an insertion"
        assert int(year) in load_centre(path).years
    else:
        assert result.exit_code == 2 and result.stderr.startswith(("Erreur : ", "Utilisation : ")), result.output
        assert after == before, "a refusal writes nothing"
    assert not [p for p in calendars.iterdir() if p.name.startswith(".")], "no temporary file left"
    return result.exit_code


@fuzz_settings(60)
@given(centre=st.one_of(st.just(CENTRE), ODD_TEXT), year=ODD_YEAR)
def test_year_new_on_odd_arguments(centre: str, year: str) -> None:
    STATS["inputs"] += 1
    STATS["options"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        code = _year_new(_copy(Path(tmp)), centre, year)
        if code == 0:
            assert centre == CENTRE and year.isascii() and 2000 <= int(year) <= 2099 and int(year) > 2028


@fuzz_settings(60)
@given(toml=blind(TOML), year=st.sampled_from(["2029", "2026", "2031"]))
def test_year_new_on_mutated_centre_files(toml: str, year: str) -> None:
    STATS["inputs"] += 1
    STATS["rule_files"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        _year_new(_copy(Path(tmp), toml), CENTRE, year)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build of ipst-cnam 2026 (institutional feed only: no catalogue), whose manifest the test mutates."""
    root = tmp_path_factory.mktemp("published")
    calendars = _copy(root)
    result = invoke("--calendars", str(calendars), "build", "--centre", CENTRE, "--year", "2026",
                    "--out", str(root / "out"), epoch=EPOCH)
    assert result.exit_code == 0, result.output
    return root / "out"


@fuzz_settings(40)
@given(data=st.data(), fmt=st.sampled_from(["text", "json"]))
def test_diff_on_a_mutated_manifest(published: Path, data: st.DataObject, fmt: str) -> None:
    STATS["inputs"] += 1
    manifest = (published / CENTRE / "2026" / ".manifest.json").read_text(encoding="utf-8")
    mutated = data.draw(blind(manifest))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        shutil.copytree(published, out)
        (out / CENTRE / "2026" / ".manifest.json").write_text(mutated, encoding="utf-8", errors="surrogatepass")
        args = ["diff", "--centre", CENTRE, "--year", "2026", "--out", str(out), "--format", fmt]
        result = invoke("--calendars", str(_copy(Path(tmp))), *args)
        _no_traceback(result, args)
        assert result.exit_code == 0, result.output


@fuzz_settings(60)
@given(centre=st.one_of(st.just(CENTRE), ODD_TEXT), year=ODD_YEAR, toml=st.one_of(st.none(), blind(TOML)),
       fmt=st.sampled_from(["text", "json", "xml", ""]))
def test_diff_on_odd_arguments_and_files(centre: str, year: str, toml: str | None, fmt: str) -> None:
    STATS["inputs"] += 1
    STATS["options"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        calendars = _copy(Path(tmp), toml)
        args = ["diff", "--centre", centre, "--year", year, "--out", str(Path(tmp) / "out"), "--format", fmt]
        result = invoke("--calendars", str(calendars), *args)
        _no_traceback(result, args)
        if result.exit_code != 0:
            assert result.exit_code == 2 and result.stderr.startswith(("Erreur : ", "Utilisation : ")), result.output
        assert not (Path(tmp) / "out").exists(), "diff writes nothing"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=8)


@fuzz_settings(40)
@given(data=st.data())
def test_diff_on_a_manifest_with_odd_values(published: Path, data: st.DataObject) -> None:
    """Valid JSON, wrong shapes: entries replaced by other values, keys of an entry given other types."""
    import json

    STATS["inputs"] += 1
    manifest = json.loads((published / CENTRE / "2026" / ".manifest.json").read_text(encoding="utf-8"))
    uids = sorted(manifest)
    for uid in data.draw(st.lists(st.sampled_from(uids), max_size=4, unique=True)):
        if data.draw(st.booleans()):
            manifest[uid] = data.draw(JSON)
        else:
            key = data.draw(st.sampled_from(["hash", "ics", "last_day", "cancelled", "feed", "last_modified"]))
            manifest[uid] = {**manifest[uid], key: data.draw(JSON)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        shutil.copytree(published, out)
        (out / CENTRE / "2026" / ".manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        args = ["diff", "--centre", CENTRE, "--year", "2026", "--out", str(out), "--format", "json"]
        result = invoke("--calendars", str(_copy(Path(tmp))), *args)
        _no_traceback(result, args)
        assert result.exit_code == 0, result.output
