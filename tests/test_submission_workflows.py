"""The workflows pass zizmor (a GitHub Actions security linter, run offline), and the submissions
workflow keeps a stranger's plugin away from write permissions: the job that verifies a pull
request can only read, and only jobs that run no code from it can write."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def zizmor() -> str | None:
    beside = Path(sys.executable).parent / "zizmor"
    return str(beside) if beside.exists() else shutil.which("zizmor")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def test_zizmor_finds_nothing_in_the_workflows():
    exe = zizmor()
    if exe is None:
        pytest.skip("zizmor is not installed (pip install -e '.[test]'); .ci/run runs it")
    done = subprocess.run([exe, "--offline", str(WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_action_is_pinned_to_a_commit_with_its_version_and_checkouts_keep_no_credentials(name):
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.match(r"\s*(-\s+)?uses:", line):
            ref, _, comment = line.split("uses:", 1)[1].partition("#")
            assert PINNED.match(ref.strip()), f"{name}: {line.strip()} is not pinned to a commit sha"
            assert re.match(r"\s*v\d+(\.\d+)*\s*$", comment), f"{name}: {line.strip()} lacks its version comment"
    for _, step in steps(load(name)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_the_submission_workflow_verifies_read_only_and_writes_elsewhere():
    workflow = load("submissions.yml")
    triggers = workflow[True]  # YAML reads the key `on` as True
    assert set(triggers) == {"pull_request", "push"} and "pull_request_target" not in triggers
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["verify"]["permissions"] == {"contents": "read"}
    assert set(jobs) == {"verify", "boards"}  # the comment is another workflow's (below)
    named = next(s for s in jobs["verify"]["steps"] if s.get("name", "").startswith("Name the pull request"))
    assert named["env"] == {"PR": "${{ github.event.pull_request.number }}"} and '"$PR"' in named["run"]
    assert set(jobs["boards"]["permissions"]) == {"contents", "pull-requests"}
    assert jobs["boards"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    install = next(s["run"] for s in jobs["boards"]["steps"] if s.get("name", "").startswith("Install"))
    assert "pip install -e ." in install and "--install" not in str(jobs["boards"])  # ffbench only, no plugin
    verify = next(s["run"] for s in jobs["verify"]["steps"] if s.get("name") == "ffbench verify")
    assert 'ffbench verify "submissions/$name" --install --budget 1800 --salt "$SALT"' in verify
    assert "secrets." not in (WORKFLOWS / "submissions.yml").read_text(encoding="utf-8")


def test_the_comment_workflow_posts_any_pull_requests_records_running_nothing_from_it():
    """Fork pull requests get the comment too: a workflow_run of the submissions workflow that checks
    out nothing, may only read artifacts and write comments, and reads the records as untrusted text
    (through files and env, never interpolated into a script; the number must be the pull request
    whose head that run verified)."""
    text = (WORKFLOWS / "submissions-comment.yml").read_text(encoding="utf-8")
    workflow = load("submissions-comment.yml")
    assert workflow[True] == {"workflow_run": {"workflows": ["submissions"], "types": ["completed"]}}
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert job["if"] == "github.event.workflow_run.event == 'pull_request'"
    assert not any("checkout" in str(s.get("uses", "")) for s in job["steps"])  # no code from the pull request
    download, comment = job["steps"]
    assert download["uses"].startswith("actions/download-artifact@")
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert download["with"]["name"] == "verification-records"  # what the verify job uploads
    script = comment["run"]
    assert "${{" not in script  # every value reaches the script through env
    assert comment["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    assert '[[ "$pr" =~ ^[0-9]{1,9}$ ]]' in script and '[ "$head" != "$HEAD_SHA" ]' in script
    assert "--body-file body.md" in script and "secrets." not in text
    assert text.count("zizmor: ignore") == 1 and "ignore[dangerous-triggers]" in text
    uploaded = next(s for s in load("submissions.yml")["jobs"]["verify"]["steps"] if "upload-artifact" in str(s))
    assert uploaded["with"]["name"] == "verification-records"
