"""Verified submissions, end to end with real tiny runs: `ffbench submit` writes rows and a
manifest, `ffbench verify` re-runs a seed it draws and compares every value, and `leaderboard
update` merges only what verified. Tampering is caught and named, both when the rows are edited
after submitting (the manifest no longer matches) and when they are edited and the manifest is
rebuilt to match (the re-run no longer matches)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

import ffbench
from ffbench import leaderboard as lb
from ffbench import provenance, results_store
from ffbench.cli import app
from ffbench.registry import get_registry
from ffbench.results import write_atomic
from ffbench.schema import RESULTS_SCHEMA_KEY, RESULTS_SCHEMA_VERSION
from ffbench.submission import folder as sub_folder
from ffbench.submission import record as sub_record
from ffbench.submission.canonical import SubmissionError, check_name, row_hash, rows_hash
from ffbench.submission.compare import compare
from ffbench.submission.deadline import OverBudget, deadline
from ffbench.submission.manifest import build_manifest, manifest_hash
from ffbench.submission.rerun import rebuild, rerun
from ffbench.submission.submit import submit, write_manifest
from ffbench.submission.tolerance import FLOAT_ABSOLUTE, BoardSpread, board_spread, tolerance
from ffbench.submission.verify import draw_seed, seconds_text, verify

FF = "ff[layers=2,width=32,epochs=2]"
BP = "bp[layers=2,width=32,epochs=2]"
DATA = "fashion-mnist-mini[train_size=300,test_size=100]"


def _clean_sha() -> str:
    """This checkout's commit without '-dirty': the runs below stand in for runs from a clean clone
    (other work may be in progress in the checkout the tests run from)."""
    sha = provenance.git_sha()
    return sha.removesuffix("-dirty") if sha else "0" * 40


CLEAN_SHA = _clean_sha()


def clean_sha() -> str:
    return CLEAN_SHA


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="session")
def results_file(tmp_path_factory):
    """ff and bp, 3 seeds each, accuracy and sparsity, on 300 training images (a few seconds)."""
    path = tmp_path_factory.mktemp("runs") / "results.parquet"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(provenance, "git_sha", clean_sha)
        result = invoke(
            "run", "--rule", f"{FF},{BP}", "--dataset", DATA, "--seeds", "3", "--device", "cpu", "--no-cache",
            "--out", str(path), "-q",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    return path


def results_of(results_file, tmp_path, edit=None, rules=None):
    """A copy of the session's results (only ``rules``' rows, edited by ``edit``) as a results file."""
    df = results_store.read(results_file)
    if rules is not None:
        df = df[df["rule"].str.partition("[")[0].isin(rules)].reset_index(drop=True)
    if edit is not None:
        df = edit(df.copy())
    path = tmp_path / f"results-{len(list(tmp_path.glob('results-*')))}.parquet"
    write_atomic(df, path, {RESULTS_SCHEMA_KEY: RESULTS_SCHEMA_VERSION})
    return path


@pytest.fixture(scope="session")
def submitted(results_file, tmp_path_factory):
    """The genuine submission of both configurations (a pristine folder; tests copy it)."""
    return submit(results_file, "tiny-ff-bp", tmp_path_factory.mktemp("pristine"))


@pytest.fixture(scope="session")
def ff_only(results_file, tmp_path_factory):
    """A genuine submission of the ff configuration alone (for the tests that re-run)."""
    tmp = tmp_path_factory.mktemp("ff-only")
    return submit(results_of(results_file, tmp, rules=["ff"]), "tiny-ff", tmp / "submissions")


def copy_of(folder, tmp_path):
    target = tmp_path / "submissions" / folder.name
    shutil.copytree(folder, target)
    return target


def edit_rows(folder, edit, reseal=False):
    """Change the rows of a submission folder; with ``reseal``, rebuild its manifest to match (what a
    submitter editing numbers would do)."""
    rows = edit(sub_folder.read_rows(folder / "rows.parquet").copy())
    sub_folder.write_rows(rows, folder / "rows.parquet")
    if reseal:
        old = json.loads((folder / "manifest.json").read_text())
        write_manifest(
            build_manifest(rows, old["name"], old["created_at"], old["submitted_with"]), folder / "manifest.json"
        )


def is_rule(df, name):
    return df["rule"].str.startswith(name + "[")


# ---------------------------------------------------------------------------------------------
# the canonical forms and the draw, by hand
# ---------------------------------------------------------------------------------------------


def test_row_hash_is_the_sha256_of_the_canonical_row_and_the_set_hash_ignores_order():
    row = {"run_id": "r1", "seed": 2, "value": 0.1, "headline": True, "stat": "accuracy"}
    from ffbench.schema import COLUMNS

    values = [{"run_id": "r1", "seed": 2, "value": "0.1", "headline": True, "stat": "accuracy"}.get(c) for c in COLUMNS]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert row_hash(row) == hashlib.sha256(text.encode()).hexdigest()
    assert 0.1 + 1e-18 == 0.1 and row_hash({**row, "value": 0.1 + 1e-18}) == row_hash(row)  # the same float
    assert row_hash({**row, "value": 0.10000000000000002}) != row_hash(row)  # the next float
    assert rows_hash(["b", "a"]) == rows_hash(["a", "b"]) == hashlib.sha256(b"a\nb").hexdigest()


def test_the_drawn_seed_is_fixed_by_manifest_salt_and_configuration():
    conf = {"key": "k1", "seeds": [4, 0, 2]}
    expected = [0, 2, 4][int(hashlib.sha256(b"abc::k1").hexdigest(), 16) % 3]
    assert draw_seed("abc", "", conf) == expected
    assert draw_seed("abc", "", {"key": "k1", "seeds": [0, 2, 4]}) == expected  # the listed order does not matter
    drawn = {draw_seed("abc", salt, conf) for salt in map(str, range(30))}
    assert drawn == {0, 2, 4}  # a salt the submitter does not know changes the draw


@pytest.mark.parametrize("name", ["../up", "a/b", "Upper-case", "ab", "a--b", "-lead", "trail-", "x.y", "a b"])
def test_names_that_could_escape_or_confuse_are_refused(name):
    with pytest.raises(SubmissionError, match="Refused submission name"):
        check_name(name)
    assert check_name("my-rule-fashion-2") == "my-rule-fashion-2"


def test_tolerance_is_the_seed_spread_capped_by_the_board_plus_rounding():
    assert tolerance(1.0, 0.05, None, 0.5) == pytest.approx(0.05 + 0.5e-6)
    assert tolerance(1.0, 0.05, 0.01, 0.5) == pytest.approx(0.01 + 0.5e-6)  # never wider than the board's std
    assert tolerance(0.5, 0.04, None, 0.0) == pytest.approx(0.02 + FLOAT_ABSOLUTE)


def test_compare_by_hand_exact_and_tolerance():
    def frame(values, classes=(None, None)):
        return pd.DataFrame(
            {
                "status": "ok", "error": None, "metric": "accuracy", "metric_id": "accuracy", "metric_version": "1",
                "stat": "accuracy", "layer": pd.array([None, None], dtype="Int64"),
                "class": pd.array(classes, dtype="string"), "class_b": pd.array([None, None], dtype="string"),
                "value": values, "rule_version": "1", "goodness_version": None, "negatives_version": None,
                "dataset_version": "1", "dataset_hash": "h",
            }
        )  # fmt: skip

    classes = (None, "Bag")
    sub = frame([0.80, 0.50], classes)
    spread = {("accuracy", "accuracy", None, None, None): 0.02, ("accuracy", "accuracy", None, "Bag", None): 0.1}
    none = BoardSpread(None, {}, {})
    metrics = {"accuracy": get_registry().get("metric", "accuracy").cls}
    same = compare(sub, frame([0.80, 0.50], classes), exact=True, spread=spread, board=none, metric_classes=metrics)
    assert same.problems == [] and same.identical
    near = compare(sub, frame([0.81, 0.45], classes), exact=False, spread=spread, board=none, metric_classes=metrics)
    assert near.problems == [] and not near.identical  # 0.01 <= 0.02 and 0.05 <= 0.1
    capped = BoardSpread(None, {("accuracy", "accuracy", None, None, None): 0.005}, {})
    far = compare(sub, frame([0.81, 0.45], classes), exact=False, spread=spread, board=capped, metric_classes=metrics)
    assert len(far.problems) == 1 and "accuracy/accuracy: submitted 0.8, re-run 0.81" in far.problems[0]
    other = frame([0.80, 0.50], (None, "Coat"))
    loose = compare(sub, other, exact=False, spread=spread, board=none, metric_classes=metrics)
    assert loose.problems == [] and len(loose.unmatched) == 2  # a class row on one side only: listed
    strict = compare(sub, other, exact=True, spread=spread, board=none, metric_classes=metrics)
    assert len(strict.problems) == 2  # an exact comparison needs the same rows


def test_with_no_board_cell_a_value_that_differs_is_unbounded_not_passed():
    """The submitter's own seed std is the only bound where the board has no cell: a difference
    beyond float rounding there is listed as unbounded (the configuration is then deferred)."""
    frame = pd.DataFrame(
        {
            "status": "ok", "error": None, "metric": "accuracy", "metric_id": "accuracy", "metric_version": "1",
            "stat": "accuracy", "layer": pd.array([None, None], dtype="Int64"),
            "class": pd.array([None, "Bag"], dtype="string"), "class_b": pd.array([None, None], dtype="string"),
            "value": [0.80, 0.50], "rule_version": "1", "goodness_version": None, "negatives_version": None,
            "dataset_version": "1", "dataset_hash": "h",
        }
    )  # fmt: skip
    overall, bag = ("accuracy", "accuracy", None, None, None), ("accuracy", "accuracy", None, "Bag", None)
    spread = {overall: 0.02, bag: 0.1}
    metrics = {"accuracy": get_registry().get("metric", "accuracy").cls}
    rerun_rows = frame.assign(value=[0.81, 0.50 + 1e-7])  # 0.01 within the seed std; 1e-7 within float rounding
    for exact in (True, False):
        alone = compare(
            frame, rerun_rows, exact=exact, spread=spread, board=BoardSpread(None, {}, {}), metric_classes=metrics
        )
        assert alone.problems == [] and alone.unbounded == ["accuracy/accuracy: submitted 0.8, re-run 0.81"]
        assert [v["unbounded"] for v in alone.values] == [True, False]
    bounded = BoardSpread(None, {overall: 0.015}, {bag: 0.2})  # own cell, median cell
    capped = compare(frame, rerun_rows, exact=True, spread=spread, board=bounded, metric_classes=metrics)
    assert capped.problems == [] and capped.unbounded == [] and not capped.identical


# ---------------------------------------------------------------------------------------------
# submit
# ---------------------------------------------------------------------------------------------


def test_submit_writes_rows_and_a_manifest_of_everything(results_file, submitted):
    manifest = json.loads((submitted / "manifest.json").read_text())
    rows = sub_folder.read_rows(submitted / "rows.parquet")
    results = results_store.read(results_file)
    assert sorted(p.name for p in submitted.iterdir()) == ["manifest.json", "rows.parquet"]
    assert len(rows) == len(results) == manifest["rows_count"]
    assert manifest["rows_sha256"] == rows_hash([row_hash(r) for r in rows.to_dict("records")])
    assert rows["artifact"].isna().all() and rows["verification"].isna().all()
    confs = {c["display"]["rule"].partition("[")[0]: c for c in manifest["configurations"]}
    assert set(confs) == {"ff", "bp"}
    ff = confs["ff"]
    assert ff["seeds"] == [0, 1, 2]
    assert ff["identity"]["rule_id"] == results.loc[is_rule(results, "ff"), "rule_id"].iloc[0]
    assert ff["identity"]["goodness_id"] == "l2[threshold=3.0]" and confs["bp"]["identity"]["goodness_id"] is None
    assert ff["identity"]["precision"] == "fp32" and ff["identity"]["preset"] == "quick"
    assert [m["metric_id"] for m in ff["metrics"]] == ["accuracy", "sparsity[samples=correct]"]
    assert ff["runs"]["1"]["threads"] == int(results["threads"].iloc[0]) and ff["runs"]["1"]["git_sha"] == clean_sha()
    assert ff["commands"] == [
        f"ffbench run --rule '{ff['identity']['rule_id']}' --goodness 'l2[threshold=3.0]' --negatives "
        f"'{ff['identity']['negatives_id']}' --dataset '{ff['identity']['dataset_id']}' --metric "
        "'accuracy,sparsity[samples=correct]' --preset quick --precision fp32 --device cpu --no-cache "
        "--stack-seeds off --seed 0 --seeds 3"
    ]
    assert manifest["distributions"] == [{"name": "ffbench", "version": ffbench.__version__}]
    assert manifest["environment"]["git_sha"] == [clean_sha()]
    assert manifest["environment"]["torch_version"] == [results["torch_version"].iloc[0]]
    n_ff = int(is_rule(results, "ff").sum())
    assert len(ff["rows"]) == n_ff and all(len(r["sha256"]) == 64 for r in ff["rows"])


def test_submit_refuses_failed_dirty_and_incomplete_rows_naming_them(results_file, tmp_path):
    def failed(df):
        hit = is_rule(df, "bp") & (df["seed"] == 1) & (df["metric"] == "sparsity")
        df.loc[hit, "status"], df.loc[hit, "error"] = "failed", "RuntimeError: boom"
        return df

    def dirty(df):
        df.loc[is_rule(df, "ff") & (df["seed"] == 2), "git_sha"] = clean_sha() + "-dirty"
        return df

    def no_seed(df):
        return df[~(is_rule(df, "bp") & (df["seed"] == 2))]

    def infinite(df):
        hit = is_rule(df, "ff") & (df["seed"] == 0) & (df["metric"] == "accuracy") & df["class"].isna()
        df.loc[hit, "value"] = float("inf")
        return df

    def no_metric(df):
        return df[~(is_rule(df, "ff") & (df["seed"] == 1) & (df["metric"] == "sparsity"))]

    cases = [
        (failed, "failed row: bp[", "seed 1 metric sparsity[samples=correct]: RuntimeError: boom"),
        (dirty, "dirty checkout: ff[", "seed 2 was run from"),
        (no_seed, "incomplete: bp[", "lacks seed 2, which the other configurations have"),
        (infinite, "infinite value: ff[", "seed 0 metric accuracy stat accuracy = inf"),
        (no_metric, "incomplete: ff[", "seed 1 lacks metric sparsity[samples=correct], which its other seeds have"),
    ]
    for edit, *expected in cases:
        path = results_of(results_file, tmp_path, edit)
        result = invoke("submit", str(path), "--name", "refused", "--to", str(tmp_path / "subs"))
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert all(e in text for e in expected), (edit.__name__, text)
        assert not (tmp_path / "subs" / "refused").exists()
    one_seed = results_of(results_file, tmp_path, lambda df: df[df["seed"] == 0])
    with pytest.raises(SubmissionError, match="has 1 seed.*needs at least 2"):
        submit(one_seed, "one-seed", tmp_path / "subs")


def test_submit_refuses_an_existing_folder_and_a_bad_name(results_file, tmp_path):
    assert invoke("submit", str(results_file), "--name", "twice", "--to", str(tmp_path)).exit_code == 0
    again = invoke("submit", str(results_file), "--name", "twice", "--to", str(tmp_path))
    assert again.exit_code == 2 and "exists already" in again.output
    bad = invoke("submit", str(results_file), "--name", "../../etc", "--to", str(tmp_path))
    assert bad.exit_code == 2 and "Refused submission name" in bad.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["twice"]


# ---------------------------------------------------------------------------------------------
# verify: a genuine submission, determinism, the tolerance path, the budget
# ---------------------------------------------------------------------------------------------


def test_a_genuine_submission_verifies_with_identical_values(submitted, tmp_path):
    folder = copy_of(submitted, tmp_path)
    result = invoke("verify", str(folder), "--boards", str(tmp_path / "no-boards"), "-q")
    assert result.exit_code == 0, result.output
    record = sub_record.read(folder / "verification.json")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert record["status"] == "verified" and record["integrity"] == []
    assert record["manifest_sha256"] == manifest_hash(manifest) and record["salt"] == ""
    assert [d["ok"] for d in record["distributions"]] == [True]
    for conf, entry in zip(manifest["configurations"], record["configurations"]):
        assert entry["key"] == conf["key"] and entry["status"] == "verified"
        assert entry["drawn_seed"] == draw_seed(record["manifest_sha256"], "", conf)
        assert entry["mode"] == "exact" and entry["identical"] is True
        drawn = [r for r in conf["rows"] if r["seed"] == entry["drawn_seed"]]
        assert len(entry["values"]) == len(drawn) and all(v["difference"] == 0 for v in entry["values"])
        by_cell = {tuple(r["cell"]): r["value"] for r in drawn}
        for v in entry["values"]:
            cell = (v["metric_id"], v["stat"], v["layer"], v["class"], v["class_b"])
            assert repr(v["rerun"]) == by_cell[cell]  # the re-run's value is the submitted one, to the bit


def test_same_configuration_seed_and_threads_give_identical_values_on_cpu(ff_only):
    manifest = json.loads((ff_only / "manifest.json").read_text())
    conf = manifest["configurations"][0]
    registry = get_registry()
    metric_ids = [m["metric_id"] for m in conf["metrics"]]
    threads = conf["runs"]["1"]["threads"]
    runs = [
        rerun(
            registry,
            rebuild(registry, conf["identity"], metric_ids, 1),
            device=__import__("torch").device("cpu"),
            precision="fp32",
            compiled=False,
            threads=threads,
        )
        for _ in range(2)
    ]
    a, b = (r.sort_values(["metric_id", "stat", "layer", "class"]).reset_index(drop=True) for r in runs)
    assert len(a) > 30 and a["value"].tolist() == b["value"].tolist()
    submitted = sub_folder.read_rows(ff_only / "rows.parquet")
    seed1 = submitted[submitted["seed"] == 1].sort_values(["metric_id", "stat", "layer", "class"])
    assert seed1["value"].tolist() == a["value"].tolist()


def test_another_thread_count_takes_the_tolerance_path(ff_only, tmp_path):
    folder = copy_of(ff_only, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    recorded = manifest["configurations"][0]["runs"]["0"]["threads"]
    other = 2 if recorded == 1 else 1
    record = verify(folder, threads=other)
    entry = record["configurations"][0]
    assert record["status"] == "verified", entry["reason"]
    assert entry["mode"] == "tolerance" and entry["identical"] is None and entry["threads"] == other
    assert all(v["ok"] and (v["difference"] or 0) <= v["tolerance"] for v in entry["values"])
    assert all(v["tolerance"] > 0 for v in entry["values"])


def test_a_configuration_over_the_budget_is_deferred_never_verified(submitted, tmp_path):
    folder = copy_of(submitted, tmp_path)
    result = invoke("verify", str(folder), "--budget", "0", "-q")
    assert result.exit_code == 0, result.output
    record = sub_record.read(folder / "verification.json")
    assert record["status"] == "deferred" and record["seconds"] == 0
    for entry in record["configurations"]:
        assert entry["status"] == "deferred" and entry["seconds"] is None and entry["values"] == []
        assert entry["estimated_seconds"] > 0 and "more than the 0 s left of the budget" in entry["reason"]
        shown = re.search(r"estimated (\S+) s for seed", entry["reason"])
        assert shown and float(shown[1]) > 0, entry["reason"]  # a short re-run's estimate is not "0 s"
    assert [seconds_text(x) for x in (0.0, 0.01234, 3.21, 42.4, -1)] == ["0 s", "0.0123 s", "3.21 s", "42 s", "0 s"]
    boards = tmp_path / "boards"
    refused = invoke("leaderboard", "update", str(folder), "--boards", str(boards), "-q")
    assert refused.exit_code == 2 and "deferred" in refused.output and "--allow-deferred" in refused.output
    assert not boards.exists() or not list(boards.glob("*.parquet"))
    merged = invoke("leaderboard", "update", str(folder), "--boards", str(boards), "--allow-deferred", "-q")
    assert merged.exit_code == 0, merged.output
    board = lb.read_board(boards / "fashion-mnist-mini.parquet")
    assert len(board) == len(sub_folder.read_rows(folder / "rows.parquet"))
    assert set(board["verification"]) == {"deferred"}


# ---------------------------------------------------------------------------------------------
# boards
# ---------------------------------------------------------------------------------------------


def test_verified_rows_reach_the_board_marked_verified_and_cap_later_tolerances(submitted, tmp_path):
    folder = copy_of(submitted, tmp_path)
    boards = tmp_path / "boards"
    unverified = invoke("leaderboard", "update", str(folder), "--boards", str(boards), "-q")
    assert unverified.exit_code == 2 and "has not been verified" in unverified.output
    assert invoke("verify", str(folder), "--boards", str(boards), "-q").exit_code == 0
    result = invoke("leaderboard", "update", str(folder), "--boards", str(boards), "-q")
    assert result.exit_code == 0, result.output
    board = lb.read_board(boards / "fashion-mnist-mini.parquet")
    rows = sub_folder.read_rows(folder / "rows.parquet")
    assert len(board) == len(rows) and set(board["verification"]) == {"verified"}
    assert sorted(board["value"].tolist()) == sorted(rows["value"].tolist())
    # the board now holds this configuration: its seed std caps the tolerance of a later verification
    manifest = json.loads((folder / "manifest.json").read_text())
    ff = next(c for c in manifest["configurations"] if c["display"]["rule"].startswith("ff"))
    spread = board_spread(boards, ff["identity"])
    accuracy = [float(r["value"]) for r in ff["rows"] if r["cell"] == ["accuracy", "accuracy", None, None, None]]
    cell = ("accuracy", "accuracy", None, None, None)
    assert spread.own[cell] == pytest.approx(pd.Series(accuracy).std())
    assert spread.cap(cell)[1].startswith("this configuration's seed std")


def test_a_record_of_another_manifest_or_a_failed_one_is_refused(submitted, tmp_path):
    folder = copy_of(submitted, tmp_path)
    record = verify(folder, budget=0)
    sub_record.write({**record, "manifest_sha256": "0" * 64}, folder / "verification.json")
    other = invoke("leaderboard", "update", str(folder), "--boards", str(tmp_path / "b"), "--allow-deferred")
    assert other.exit_code == 2 and "verified another manifest" in other.output
    failed = {**record, "status": "failed", "reason": "1 configuration(s) failed"}
    failed["configurations"] = [
        {**c, "status": "failed", "reason": "seed 0 re-run differs"} for c in record["configurations"]
    ]
    sub_record.write(failed, folder / "verification.json")
    refused = invoke("leaderboard", "update", str(folder), "--boards", str(tmp_path / "b"), "--allow-deferred")
    assert refused.exit_code == 2 and "failed verification" in refused.output
    assert "seed 0 re-run differs" in refused.output


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_a_results_file_cannot_bring_a_verification_state_onto_a_board(results_file, tmp_path):
    def forged(df):
        df["verification"] = pd.array(["verified"] * len(df), dtype="string")
        return df

    path = results_of(results_file, tmp_path, edit=forged, rules=["ff"])
    boards = tmp_path / "boards"
    result = invoke("leaderboard", "update", str(path), "--boards", str(boards))
    assert result.exit_code == 0, result.output
    n = len(results_store.read(path))
    note = _flat(result.output)
    assert f"{n} row(s) carried a verification state ({n} verified); merged as local runs" in note
    assert str(path) in "".join(result.output.split())  # the note names the file (rich may fold the path)
    board = lb.read_board(boards / "fashion-mnist-mini.parquet")
    assert len(board) == n and board["verification"].isna().all()  # local runs, as if never set
    assert set(results_store.read(path)["verification"]) == {"verified"}  # the file itself is left as it was
    shown = invoke("leaderboard", "show", "fashion-mnist-mini", "--boards", str(boards), "--verified-only")
    assert "ff[" not in shown.output


def test_only_the_record_of_an_intact_folder_grants_a_state(submitted, tmp_path):
    """A folder crafted to look verified: its rows say 'verified'. Unsealed, the folder no longer
    matches its manifest and is refused; resealed, the state is the record's (deferred), not the rows'."""
    folder = copy_of(submitted, tmp_path)
    sub_record.write(verify(folder, budget=0), folder / "verification.json")  # a record of this manifest

    def say_verified(df):
        df["verification"] = pd.array(["verified"] * len(df), dtype="string")
        return df

    edit_rows(folder, say_verified)
    boards = tmp_path / "boards"
    refused = invoke("leaderboard", "update", str(folder), "--boards", str(boards), "--allow-deferred")
    assert refused.exit_code == 2 and "was changed after it was submitted" in refused.output
    assert not list(boards.glob("*.parquet"))
    edit_rows(folder, lambda df: df, reseal=True)  # the manifest rebuilt from the edited rows
    stale = invoke("leaderboard", "update", str(folder), "--boards", str(boards), "--allow-deferred")
    assert stale.exit_code == 2 and "verified another manifest" in stale.output
    sub_record.write(verify(folder, budget=0), folder / "verification.json")
    merged = invoke("leaderboard", "update", str(folder), "--boards", str(boards), "--allow-deferred", "-q")
    assert merged.exit_code == 0, merged.output
    assert set(lb.read_board(boards / "fashion-mnist-mini.parquet")["verification"]) == {"deferred"}


def test_a_verified_submission_shows_its_state_on_the_page_and_the_site(submitted, tmp_path):
    folder = copy_of(submitted, tmp_path)
    boards = tmp_path / "boards"
    assert invoke("verify", str(folder), "--boards", str(boards), "-q").exit_code == 0
    assert invoke("leaderboard", "update", str(folder), "--boards", str(boards), "-q").exit_code == 0
    page = (boards / "fashion-mnist-mini.md").read_text(encoding="utf-8")
    key = [line for line in page.splitlines() if line.startswith("- ") and "`" in line]
    assert len(key) == 2 and all(line.endswith("` · verified") for line in key), key
    assert (
        "| configuration | seeds | last run | suite | versions | ffbench | git | torch | device | verification |"
        in page
    )
    assert sum(line.rstrip().endswith("| verified |") for line in page.splitlines()) == 2
    site = tmp_path / "site"
    built = invoke("leaderboard", "site", str(site), "--boards", str(boards), "--no-figures")
    assert built.exit_code == 0, built.output
    html = (site / "fashion-mnist-mini.html").read_text(encoding="utf-8")
    assert html.count("<td>verified</td>") >= 2 and "<td>local</td>" not in html


def test_a_difference_with_no_board_cell_defers_and_a_board_cell_bounds_it(results_file, tmp_path):
    """Every ff accuracy nudged by half its seed std and resealed: the exact re-run differs from it.
    With no board the only bound is the submitter's seed std, so it is deferred; a board holding the
    configuration's cells bounds it (within tolerance: verified, not identical)."""
    ff = results_store.read(results_file)
    overall = ff[is_rule(ff, "ff") & (ff["metric"] == "accuracy") & ff["class"].isna()]
    std = float(overall["value"].std())
    assert std > 0

    def nudged(df):
        hit = (df["metric"] == "accuracy") & df["class"].isna()
        df.loc[hit, "value"] += std / 2
        return df

    folder = submit(results_of(results_file, tmp_path, edit=nudged, rules=["ff"]), "nudged", tmp_path / "subs")
    alone = verify(folder, boards_dir=tmp_path / "no-boards")
    (entry,) = alone["configurations"]
    assert alone["status"] == "deferred" and entry["status"] == "deferred" and entry["mode"] == "exact"
    assert "the board has no cell to bound their tolerance" in entry["reason"]
    assert entry["unbounded"] and entry["unbounded"][0].startswith("accuracy/accuracy: submitted")
    boards = tmp_path / "boards"
    lb.update([results_of(results_file, tmp_path, rules=["ff"])], boards)  # local runs of the same configuration
    bounded = verify(folder, boards_dir=boards)
    (entry,) = bounded["configurations"]
    assert bounded["status"] == "verified", entry["reason"]
    assert entry["identical"] is False and entry["unbounded"] == []


def test_the_deadline_stops_a_stretch_that_reports_nothing_and_restores_the_timer():
    before = signal.getsignal(signal.SIGALRM)
    t0 = time.monotonic()
    with pytest.raises(OverBudget), deadline(0.05):
        while time.monotonic() - t0 < 60:
            pass
    assert time.monotonic() - t0 < 30
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    with pytest.raises(OverBudget), deadline(0.0) as reporter:
        time.sleep(0.01)
        reporter.progress(1, 2, "epoch 1")  # the first report past the deadline stops the run


def test_a_rerun_past_its_share_of_the_budget_is_stopped_and_deferred(results_file, tmp_path):
    """Seconds recorded as a millionth of a second (an estimate that fits any budget): the re-run is
    stopped at the 0.05 s left, and deferred with both numbers, never verified."""

    def claimed_fast(df):
        return df.assign(train_seconds=1e-6, metric_seconds=1e-6)

    folder = submit(results_of(results_file, tmp_path, edit=claimed_fast, rules=["ff"]), "fast", tmp_path / "subs")
    before = signal.getsignal(signal.SIGALRM)
    record = verify(folder, budget=0.05)
    (entry,) = record["configurations"]
    assert record["status"] == "deferred" and entry["status"] == "deferred", entry["reason"]
    assert entry["values"] == [] and 0.05 <= entry["seconds"] < 10
    assert "was stopped after" in entry["reason"] and "past the 0.05 s left of the budget" in entry["reason"]
    estimated = re.search(r"\(estimated (\S+) s from the submitted seconds\)", entry["reason"])
    assert estimated and 0 < float(estimated[1]) < 1e-4, entry["reason"]  # a few millionths, shown as such
    assert signal.getsignal(signal.SIGALRM) is before


# ---------------------------------------------------------------------------------------------
# tampering: rows edited after submitting (the manifest no longer matches)
# ---------------------------------------------------------------------------------------------


def _value_changed(df):
    i = df.index[is_rule(df, "ff") & (df["seed"] == 1) & (df["metric"] == "accuracy") & df["class"].isna()][0]
    df.loc[i, "value"] += 0.1
    return df


def _row_added(df):
    extra = df[is_rule(df, "ff") & (df["seed"] == 0) & (df["metric"] == "accuracy") & df["class"].isna()].copy()
    extra["class"] = "Invented"
    return pd.concat([df, extra], ignore_index=True)


def _row_removed(df):
    return df.drop(df.index[is_rule(df, "bp") & (df["seed"] == 2) & (df["stat"] == "dead_fraction")][:1])


def _seed_relabelled(df):
    ff = is_rule(df, "ff")
    df.loc[ff, "seed"] = df.loc[ff, "seed"].map({0: 1, 1: 0, 2: 2}).astype("Int64")
    return df


def _identity_edited(df):
    ff = is_rule(df, "ff")
    df.loc[ff, "rule_id"] = df.loc[ff, "rule_id"].str.replace("lr=0.01", "lr=0.02")
    return df


def _version_changed(df):
    df.loc[is_rule(df, "bp"), "rule_dist_version"] = "9.9"
    return df


def _configuration_swapped(df):
    """bp's rows relabelled as ff's (ff's own rows dropped): another configuration's numbers."""
    ff, bp = df[is_rule(df, "ff")], df[is_rule(df, "bp")].copy()
    for col in [c for c in df.columns if c.startswith(("rule", "goodness", "negatives"))] + ["config_hash"]:
        bp[col] = ff[col].iloc[0]
    return bp.reset_index(drop=True)


EDITS = {
    "value changed": (_value_changed, ["value changed: ff[", "seed 1 accuracy/accuracy: the manifest says"]),
    "row added": (_row_added, ["row added: ff[", "seed 0 accuracy/accuracy (class Invented)"]),
    "row removed": (_row_removed, ["row removed: bp[", "seed 2 sparsity[samples=correct]/dead_fraction"]),
    "seed relabelled": (_seed_relabelled, ["seed relabelled: the rows labelled seed 0 are the manifest's seed 1"]),
    "identity edited": (_identity_edited, ["identity edited: the rows of ff[", "lr=0.02"]),
    "plugin version changed": (
        _version_changed,
        ["distributions: the manifest says", "distribution ffbench appears at several versions (0.1.0, 9.9)"],
    ),
    "configuration swapped": (_configuration_swapped, ["rows of another configuration swapped in"]),
}


@pytest.mark.parametrize("what", list(EDITS))
def test_rows_edited_after_submitting_fail_and_are_named(submitted, tmp_path, what):
    edit, expected = EDITS[what]
    folder = copy_of(submitted, tmp_path)
    edit_rows(folder, edit)
    result = invoke("verify", str(folder), "-q")
    assert result.exit_code == 1, result.output
    record = sub_record.read(folder / "verification.json")
    assert record["status"] == "failed" and record["configurations"] == []  # nothing re-run
    text = "\n".join(record["integrity"])
    assert all(e in text for e in expected), text
    refused = invoke("leaderboard", "update", str(folder), "--boards", str(tmp_path / "b"))
    assert refused.exit_code == 2 and "was changed after it was submitted" in refused.output


def test_a_seed_relabelled_to_a_new_number_is_reported_once(submitted, tmp_path):
    folder = copy_of(submitted, tmp_path)

    def relabel(df):
        ff = is_rule(df, "ff") & (df["seed"] == 2)
        df.loc[ff, "seed"] = 7
        return df

    edit_rows(folder, relabel)
    record = verify(folder)
    assert record["status"] == "failed"
    ff_lines = [line for line in record["integrity"] if "ff[" in line]
    assert ff_lines[0].endswith("seed relabelled: the rows labelled seed 7 are the manifest's seed 2"), ff_lines
    assert not any("row removed" in line or "row added" in line for line in record["integrity"]), ff_lines
    assert len(ff_lines) <= 4, ff_lines  # the relabelling, and the seeds and commands it changes


def test_a_manifest_edited_alone_fails(submitted, tmp_path):
    folder = copy_of(submitted, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["configurations"][0]["seeds"] = [0, 1]  # hide a seed from the draw
    write_manifest(manifest, folder / "manifest.json")
    record = verify(folder)
    assert record["status"] == "failed"
    assert any("seeds: the manifest says [0,1], the rows [0,1,2]" in p for p in record["integrity"])


# ---------------------------------------------------------------------------------------------
# tampering resealed: rows edited and the manifest rebuilt to match (the re-run catches it)
# ---------------------------------------------------------------------------------------------


def _every_value_shifted(df):
    """Every seed's accuracy raised by 0.5, beyond any seed spread of these runs. (A shift within the
    seeds' spread passes where the re-run cannot be identical: that is what the tolerance means.)"""
    hit = is_rule(df, "ff") & (df["metric"] == "accuracy")
    df.loc[hit, "value"] += 0.5
    return df


def _seeds_rotated(df):
    ff = is_rule(df, "ff")
    df.loc[ff, "seed"] = df.loc[ff, "seed"].map({0: 1, 1: 2, 2: 0}).astype("Int64")
    return df


def _stat_added(df):
    extra = df[is_rule(df, "ff") & (df["metric"] == "accuracy") & df["class"].isna()].copy()
    extra["stat"] = "bonus"
    return pd.concat([df, extra], ignore_index=True)


def _overall_removed(df):
    return df[~(is_rule(df, "ff") & (df["metric"] == "accuracy") & df["class"].isna())]


RESEALED = {
    "every value changed": (_every_value_shifted, "accuracy/accuracy: submitted"),
    "seeds relabelled": (_seeds_rotated, "re-run differs"),
    "identity edited": (_identity_edited, "re-run differs"),
    "configuration swapped": (_configuration_swapped, "re-run differs"),
    "row added": (_stat_added, "accuracy/bonus: in the submission only"),
    "row removed": (_overall_removed, "accuracy/accuracy: in the re-run only"),
}


@pytest.mark.parametrize("what", list(RESEALED))
def test_rows_edited_and_resealed_fail_the_rerun(results_file, submitted, tmp_path, what):
    edit, expected = RESEALED[what]
    folder = copy_of(submitted, tmp_path)
    edit_rows(folder, lambda df: edit(df)[lambda d: is_rule(d, "ff")].reset_index(drop=True), reseal=True)
    record = verify(folder)
    assert record["integrity"] == []  # the manifest matches the edited rows: only the re-run can tell
    assert record["status"] == "failed"
    (entry,) = record["configurations"]
    assert entry["status"] == "failed" and expected in entry["reason"], entry["reason"]
