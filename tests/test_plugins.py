"""Plugin loading: broken, blocked and colliding plugins are reported and never break the rest;
`ffbench plugins --json` and `ffbench --version` show them."""

from __future__ import annotations

import json
import types

import pytest
from typer.testing import CliRunner

import ffbench
import ffbench.registry as registry_module
from ffbench.cli import app
from ffbench.errors import CollisionError, FFBenchError, UnknownComponentError
from ffbench.registry import DISABLE_ENV, load_registry
from ffbench_plugins.goodness.norms import L2Goodness


class Alpha(L2Goodness):
    name = "alpha"


class Beta(L2Goodness):
    name = "beta"


def plugin(module_name: str, **hooks) -> types.ModuleType:
    """An in-process plugin module with the given hook functions."""
    module = types.ModuleType(module_name)
    for name, fn in hooks.items():
        setattr(module, name, fn)
    return module


def registers(*classes):
    @ffbench.hookimpl
    def ffbench_register_goodness(register):
        for cls in classes:
            register(cls)

    return ffbench_register_goodness


def load(*plugins):
    """A registry of in-process plugins only: (name, module, dist, version) tuples."""
    return load_registry(extra=list(plugins), use_entry_points=False)


def status(registry, name):
    info = next(p for p in registry.plugins if p.name == name)
    return info.status, info.reason


@pytest.fixture(autouse=True)
def no_blocks(monkeypatch):
    monkeypatch.delenv(DISABLE_ENV, raising=False)


GOOD = ("good", plugin("good_mod", ffbench_register_goodness=registers(Alpha)), "dist-good", "1.0")


# -- loading ---------------------------------------------------------------------------------


def test_good_plugin_registers_with_its_distribution():
    reg = load(GOOD)
    entry = reg.get("goodness", "alpha")
    assert (entry.cls, entry.dist, entry.dist_version, entry.plugin) == (Alpha, "dist-good", "1.0", "good")
    assert status(reg, "good") == ("ok", "")
    assert reg.plugins[0].components == [("goodness", "alpha")]


def test_entry_points_load_the_builtins():
    reg = load_registry()
    assert [(p.name, p.reason) for p in reg.plugins if p.dist == "ffbench" and p.status != "ok"] == []
    assert reg.get("goodness", "l2").dist == "ffbench"
    assert reg.get("rule", "ff").dist_version == ffbench.__version__


def test_missing_module_is_broken_and_others_still_load():
    reg = load(("ghost", "ffbench_tests_no_such_module", "dist-ghost", "0.1"), GOOD)
    assert status(reg, "ghost") == (
        "broken",
        "import failed: ModuleNotFoundError: No module named 'ffbench_tests_no_such_module'",
    )
    assert reg.get("goodness", "alpha").cls is Alpha


def test_module_raising_on_import_is_broken_with_file_and_line(tmp_path, monkeypatch):
    (tmp_path / "ffbench_tests_raises.py").write_text("import os\nraise RuntimeError('no GPU driver')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = load(("raises", "ffbench_tests_raises", "dist-r", "2.0"), GOOD)
    state, reason = status(reg, "raises")
    assert state == "broken"
    assert reason == f"import failed: RuntimeError: no GPU driver ({tmp_path / 'ffbench_tests_raises.py'}:2)"
    assert "alpha" in reg.names("goodness")


def test_misspelt_hook_is_an_error_naming_it():
    @ffbench.hookimpl
    def ffbench_register_goodnes(register):
        register(Beta)

    reg = load(("typo", plugin("typo_mod", ffbench_register_goodnes=ffbench_register_goodnes), "dist-t", "1"), GOOD)
    assert status(reg, "typo") == (
        "broken",
        "unknown hook implementation 'ffbench_register_goodnes' (did you mean 'ffbench_register_goodness'?)",
    )
    assert reg.names("goodness") == ["alpha"]
    assert status(reg, "good") == ("ok", "")  # a later plugin is not blamed for the earlier typo


def test_hook_without_the_hookimpl_marker_is_an_error_naming_it():
    def ffbench_register_goodness(register):
        register(Beta)

    reg = load(("bare", plugin("bare_mod", ffbench_register_goodness=ffbench_register_goodness), "d", "1"))
    assert status(reg, "bare") == (
        "broken",
        "ffbench_register_goodness not marked with @ffbench.hookimpl, so ffbench would never call it",
    )


def test_hook_with_wrong_argument_is_broken():
    @ffbench.hookimpl
    def ffbench_register_goodness(reg):
        reg(Beta)

    reg = load(("args", plugin("args_mod", ffbench_register_goodness=ffbench_register_goodness), "d", "1"))
    state, reason = status(reg, "args")
    assert state == "broken" and reason.startswith("registration failed: PluginValidationError")
    assert "'reg'" in reason


def test_register_hook_raising_is_broken_and_registers_nothing():
    @ffbench.hookimpl
    def ffbench_register_goodness(register):
        register(Beta)
        raise RuntimeError("config file missing")

    reg = load(("raiser", plugin("raiser_mod", ffbench_register_goodness=ffbench_register_goodness), "d", "1"), GOOD)
    state, reason = status(reg, "raiser")
    assert state == "broken"
    assert reason.startswith("register hook failed: RuntimeError: config file missing (")
    assert reg.names("goodness") == ["alpha"]  # all or nothing: Beta, registered before the error, is gone


@pytest.mark.parametrize(
    "registered, problem",
    [
        (int, "registered <class 'int'>, which is not a Goodness subclass"),
        (type("Comma", (L2Goodness,), {"name": "a,b"}), "Comma.name 'a,b' is not a valid component name"),
        (
            type("NoVersion", (L2Goodness,), {"name": "nov", "version": 2}),
            "NoVersion.version must be a non-empty string",
        ),
    ],
)
def test_registering_an_invalid_component_is_broken(registered, problem):
    reg = load(("bad", plugin("bad_mod", ffbench_register_goodness=registers(registered)), "d", "1"))
    state, reason = status(reg, "bad")
    assert state == "broken" and problem in reason


# -- blocking --------------------------------------------------------------------------------


def test_blocked_by_plugin_name(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "good, nothing-like-this")
    reg = load(GOOD)
    assert status(reg, "good") == ("disabled", f"blocked by {DISABLE_ENV}=good")
    assert reg.names("goodness") == []
    assert reg.unmatched_blocks == ["nothing-like-this"]
    with pytest.raises(UnknownComponentError) as info:
        reg.get("goodness", "alpha")
    assert str(info.value) == (
        "Unknown goodness 'alpha'. Valid goodness names: (none installed). Plugins not loaded: 'good' "
        "(dist-good 1.0) is disabled: blocked by FFBENCH_DISABLE_PLUGINS=good. Run `ffbench plugins` for details."
    )


def test_blocked_by_distribution_name_normalised(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "Dist_Good")
    reg = load(GOOD, ("other", plugin("other_mod", ffbench_register_goodness=registers(Beta)), "dist-other", "1"))
    assert status(reg, "good")[0] == "disabled"
    assert reg.names("goodness") == ["beta"]
    assert reg.unmatched_blocks == []


# -- collisions ------------------------------------------------------------------------------


def test_collision_names_both_distributions():
    impostor = type("Impostor", (L2Goodness,), {"name": "alpha"})
    reg = load(
        GOOD,
        ("copycat", plugin("copy_mod", ffbench_register_goodness=registers(impostor, Beta)), "dist-copycat", "3.1"),
    )
    assert "alpha" in reg.names("goodness")  # still listed, so the error below is what users see
    with pytest.raises(CollisionError) as info:
        reg.get("goodness", "alpha")
    assert str(info.value) == (
        "Name collision: goodness 'alpha' is registered by dist-good 1.0 (plugin 'good') and dist-copycat 3.1 "
        "(plugin 'copycat'). Rename it in dist-copycat, uninstall that distribution, or block the newcomer: "
        "FFBENCH_DISABLE_PLUGINS=copycat (its plugin) or FFBENCH_DISABLE_PLUGINS=dist-copycat (its distribution)."
    )
    assert status(reg, "copycat")[0] == "collision" and status(reg, "good")[0] == "ok"
    assert reg.get("goodness", "beta").dist == "dist-copycat"


def test_same_class_registered_twice_is_not_a_collision():
    reg = load(GOOD, ("again", plugin("again_mod", ffbench_register_goodness=registers(Alpha)), "dist-good", "1.0"))
    assert reg.collisions == {}
    assert reg.get("goodness", "alpha").plugin == "good"


# -- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli_registry(monkeypatch):
    """Make the CLI see the built-ins plus a broken, a colliding and a good third-party plugin."""
    impostor = type("Impostor", (L2Goodness,), {"name": "l2"})
    reg = load_registry(
        extra=[
            ("ghost", "ffbench_tests_no_such_module", "dist-ghost", "0.1"),
            ("copycat", plugin("copy_mod", ffbench_register_goodness=registers(impostor)), "dist-copycat", "3.1"),
            GOOD,
        ]
    )
    monkeypatch.setattr(registry_module, "_DEFAULT", reg)
    return reg


def test_plugins_json(cli_registry):
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    plugins = {p["name"]: p for p in data["plugins"]}
    assert plugins["ghost"]["status"] == "broken"
    assert "No module named 'ffbench_tests_no_such_module'" in plugins["ghost"]["reason"]
    assert plugins["good"] == {
        "name": "good",
        "module": "good_mod",
        "distribution": "dist-good",
        "distribution_version": "1.0",
        "status": "ok",
        "reason": "",
        "components": ["goodness:alpha"],
    }
    components = {(c["kind"], c["name"]): c for c in data["components"]}
    assert components[("goodness", "alpha")]["distribution"] == "dist-good"
    assert components[("goodness", "alpha")]["needs_negatives"] is True
    assert components[("metric", "accuracy")]["higher_is_better"] is True
    ff_params = {p["name"]: p for p in components[("rule", "ff")]["params"]}
    assert ff_params["epochs"]["min"] == 1 and ff_params["lr"]["min"] == 0.0 and "max" not in ff_params["lr"]
    assert ("goodness", "l2") not in components  # unusable while it collides
    assert data["collisions"][0]["distributions"] == ["ffbench", "dist-copycat"]
    assert plugins["copycat"]["status"] == "collision"  # the newcomer, not the built-in group
    assert "FFBENCH_DISABLE_PLUGINS=copycat" in plugins["copycat"]["reason"]
    assert plugins["goodness-norms"]["status"] == "ok"
    assert data["ffbench_version"] == ffbench.__version__


def test_plugins_table_shows_status_and_reason(cli_registry):
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "ghost" in result.stdout and "broken" in result.stdout and "ffbench_tests_no_such_module" in result.stdout
    assert "collision" in result.stdout and "dist-copycat 3.1" in result.stdout


def test_version_lists_plugin_distributions(cli_registry):
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ffbench {ffbench.__version__} (python ")
    assert "dist-good-1.0" in result.stdout and f"ffbench-{ffbench.__version__}" in result.stdout


def test_other_commands_work_and_explain_what_did_not_load(cli_registry, tmp_path):
    result = CliRunner().invoke(app, ["run", "--goodness", "ghostly", "--out", str(tmp_path / "r.parquet"), "-q"])
    assert result.exit_code == 2
    # compared without whitespace: the paragraph is wrapped to the console's width, which an earlier
    # test may have left narrow
    message = "".join(result.stderr.split())
    assert "Unknowngoodness'ghostly'" in message
    assert "Pluginsnotloaded:" in message and "'ghost'(dist-ghost0.1)isbroken" in message
    collided = CliRunner().invoke(app, ["run", "--goodness", "l2", "--out", str(tmp_path / "r.parquet"), "-q"])
    assert collided.exit_code == 2
    assert "dist-copycat3.1" in "".join(collided.stderr.split())


def test_conformance_refuses_a_name_another_installed_plugin_has():
    from ffbench.testing import ConformanceError, check_component

    impostor = type("Impostor", (L2Goodness,), {"name": "sumsq", "__module__": __name__})
    with pytest.raises(ConformanceError, match=r"goodness name 'sumsq' is already taken by ffbench"):
        check_component(impostor)


# -- suites from plugins ---------------------------------------------------------------------


def suite_plugin(*suites):
    @ffbench.hookimpl
    def ffbench_register_suites(register):
        for s in suites:
            register(s)

    return plugin("suite_mod", ffbench_register_suites=ffbench_register_suites)


def test_a_plugin_publishes_a_suite_that_runs_and_lists():
    from ffbench.grid import suite_grid
    from ffbench.suites import Suite, SuiteEntry

    mine = Suite(
        "my-study",
        "1",
        "a third-party study",
        metrics=("accuracy",),
        entries=(SuiteEntry(rules=("bp[epochs=1]",), datasets=("fashion-mnist-mini",), seeds=(0,)),),
    )
    reg = load_registry(extra=[("study", suite_plugin(mine), "dist-study", "0.2")])
    assert reg.get_suite("my-study") is mine and "quick" in [s.name for s in reg.list_suites()]  # built-ins too
    assert len(suite_grid(reg, mine).points) == 1
    assert ("suite", "my-study") in status_info(reg, "study").components
    clash = Suite("my-study", "9", "a copy", metrics=("accuracy",))
    reg = load(("study", suite_plugin(mine), "dist-study", "0.2"), ("copy", suite_plugin(clash), "dist-copy", "1"))
    with pytest.raises(FFBenchError, match="Suite name collision: 'my-study' is registered by dist-study 0.2"):
        reg.get_suite("my-study")
    bad = load(("bad", suite_plugin("not a suite"), "dist-bad", "1"))
    assert status(bad, "bad")[0] == "broken" and "not an ffbench.suites.Suite" in status(bad, "bad")[1]


def status_info(registry, name):
    return next(p for p in registry.plugins if p.name == name)


# -- `ffbench plugins [PATTERN] [--kind KIND]` ------------------------------------------------


def listed(*args: str) -> list[dict]:
    result = CliRunner().invoke(app, ["plugins", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["components"]


def test_pattern_and_kind_filter_components():
    assert [(c["kind"], c["name"]) for c in listed("ns-fgsm")] == [("negatives", "ns-fgsm")]
    assert [c["name"] for c in listed("NS-FG*")] == ["ns-fgsm"]  # case-insensitive
    assert listed("ns-*", "--kind", "goodness") == []
    assert [c["name"] for c in listed("ff", "--kind", "rule")] == ["ff"]
    assert {c["kind"] for c in listed("--kind", "metric")} == {"metric"}
    assert "accuracy" in [c["name"] for c in listed("--kind", "metric")]
    everything = listed()
    assert len(listed("*")) == len(everything) > len(listed("--kind", "metric")) > 0
    assert CliRunner().invoke(app, ["plugins", "wrong-l*", "--kind", "negatives"]).exit_code == 0


def test_unknown_kind_is_refused_naming_the_valid_ones():
    result = CliRunner().invoke(app, ["plugins", "--kind", "model"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "'model'" in message
    for kind in ("rule", "goodness", "negatives", "dataset", "metric"):
        assert f"'{kind}'" in message


def test_traits_are_the_ones_each_contract_declares():
    fgsm = listed("ns-fgsm")[0]
    assert fgsm["needs_model"] is True and fgsm["label_free"] is False and fgsm["produces_negatives"] is True
    mix = listed("ns-image-mix")[0]
    assert mix["label_free"] is True and mix["needs_model"] is False
    assert listed("wrong-label")[0]["label_free"] is False
    ff = listed("ff", "--kind", "rule")[0]
    assert ff["uses_goodness"] is True and isinstance(ff["stacks_seeds"], bool)
    assert isinstance(ff["bf16_cpu_verified"], bool)
    assert listed("accuracy")[0]["headline"] == ["accuracy"]
    from ffbench.contracts import KINDS

    for kind, contract in KINDS.items():  # every declared trait is a class attribute of the contract
        assert all(hasattr(contract, name) for name in contract.trait_names), kind
