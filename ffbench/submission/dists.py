"""The plugin distributions a submission names must be installed here, at the versions it names.

``ffbench verify`` checks each one; with ``--install`` it installs a missing or different one by
name and version with pip (``NAME==VERSION``, with torch and ffbench pinned to the installed ones,
so that installing a plugin never changes the verifier itself). ffbench itself is never installed:
the rows must have been computed with this ffbench version. Names and versions come from a
stranger's file, so they must look like a distribution name and a version before pip sees them.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

#: A distribution name (PEP 508) and a version (PEP 440 characters, local part included).
DIST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")
DIST_VERSION = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z.+!_-]{0,62}[0-9A-Za-z])?")
CORE = "ffbench"
#: Seconds one pip install may take.
INSTALL_TIMEOUT = 900


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def _pip_install(name: str, version: str, log: Callable[[str], None]) -> str | None:
    """Install ``name==version`` (torch and ffbench held at their installed versions); None on
    success, else pip's last lines."""
    pins = [f"{d}=={installed_version(d)}" for d in ("torch", CORE) if installed_version(d)]
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        log(f"installing {name}=={version} (pip; {', '.join(pins)} kept)")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", str(constraints)]
                + [f"{name}=={version}"],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
    importlib.invalidate_caches()
    if done.returncode != 0:
        return " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    return None


def check(
    distributions: list[dict], install: bool = False, log: Callable[[str], None] = lambda message: None
) -> tuple[list[dict], list[str], bool]:
    """(one entry per distribution: name, version, installed, ok; the problems, one line each;
    whether anything was installed)."""
    report: list[dict] = []
    problems: list[str] = []
    installed_any = False
    for dist in distributions:
        name, version = dist.get("name"), dist.get("version")
        if not (
            isinstance(name, str)
            and DIST_NAME.fullmatch(name)
            and isinstance(version, str)
            and DIST_VERSION.fullmatch(version)
        ):
            problems.append(f"refused distribution {name!r} version {version!r}: not a distribution name and version")
            report.append({"name": str(name), "version": str(version), "installed": None, "ok": False})
            continue
        have = installed_version(name)
        if have != version and install and canonical(name) != CORE:
            failure = _pip_install(name, version, log)
            installed_any = True
            have = installed_version(name)
            if failure and have != version:
                problems.append(f"plugin distribution {name}=={version} could not be installed: {failure}")
                report.append({"name": name, "version": version, "installed": have, "ok": False})
                continue
        ok = have == version
        report.append({"name": name, "version": version, "installed": have, "ok": ok})
        if ok:
            continue
        here = f"this environment has {have}" if have else "it is not installed here"
        if canonical(name) == CORE:
            problems.append(
                f"ffbench: the rows were computed with ffbench {version}, {here}; verify from a checkout of "
                "that version (the manifest lists the git sha of each run)"
            )
        else:
            problems.append(
                f"plugin distribution {name}: the manifest names version {version}, {here}; "
                f"install it (pip install '{name}=={version}') or run ffbench verify --install"
            )
    return report, problems, installed_any
