"""`ffbench leaderboard site` on every committed board, checked in a real headless browser: every
page loads without console errors, a click on a header sorts the table, nothing overflows a
1280 px wide window, the figures load. Skipped (not failed) where no Chromium, chromedriver or
selenium is installed (.ci/run installs Debian's chromium and chromium-driver where it can)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ffbench import leaderboard as lb
from ffbench.cli import leaderboard as lb_cli
from ffbench.errors import FFBenchError
from ffbench.leaderboard.site import board_html, build_site

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 1280


def _browser_paths() -> tuple[str, str] | None:
    chromium = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver") if p and Path(p).exists()), None)
    return (chromium, driver) if chromium and driver else None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    ran = CliRunner().invoke(lb_cli.app, ["site", str(out), "--boards", str(ROOT / "leaderboards")])
    assert ran.exit_code == 0, ran.output
    return out


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    paths = _browser_paths()
    if paths is None:
        pytest.skip("no chromium and chromedriver on this machine")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    profile = tempfile.mkdtemp(prefix="ffbench-chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={WIDTH},900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(paths[1]))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_the_site_holds_every_committed_board(site):
    pages = sorted(p.name for p in site.glob("*.html"))
    boards = ROOT / "leaderboards"
    committed = [b.stem for b in boards.glob("*.parquet")]
    committed += [f"{b.parent.name}-{b.stem}" for b in boards.glob("*/*.parquet")]
    assert pages == sorted(["index.html", *(f"{name}.html" for name in committed)])
    assert {"fashion-mnist.html", "goodness-study-fashion-mnist-mini.html"} <= set(pages)
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in pages:
        if page != "index.html":
            assert f'href="{page}"' in index
    assert len(list(site.glob("*/*.png"))) >= 4  # the metrics' figures, one folder per board
    assert "http" not in index.replace("http-equiv", "")  # nothing fetched at view time


def test_every_page_loads_without_errors_and_fits_1280_px(site, browser):
    for page in sorted(site.glob("*.html")):
        browser.get(page.as_uri())
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == [], f"{page.name}: {errors}"
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= WIDTH, f"{page.name} is {width} px wide"
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert broken == [], f"{page.name}: figures that did not load: {broken}"


def _column(browser, table, col: int) -> list[str]:
    return [r.find_elements("tag name", "td")[col].text for r in table.find_elements("css selector", "tbody tr")]


def test_clicking_a_header_sorts_the_table(site, browser):
    browser.get((site / "fashion-mnist-mini.html").as_uri())
    table = browser.find_element("css selector", "#overview ~ div table.sortable")
    heads = table.find_elements("css selector", "thead th")
    names = [h.text for h in heads]
    accuracy = names.index("accuracy ▲")
    heads[accuracy].click()
    up = [float(v.split(" ± ")[0]) for v in _column(browser, table, accuracy)]
    assert up == sorted(up) and len(up) == 8
    heads[accuracy].click()
    down = [float(v.split(" ± ")[0]) for v in _column(browser, table, accuracy)]
    assert down == sorted(down, reverse=True)
    assert heads[accuracy].get_attribute("aria-sort") == "descending"
    label = names.index("configuration")
    heads[label].click()
    labels = _column(browser, table, label)
    assert labels == sorted(labels) and "cafo" in labels


def test_seeds_and_provenance_are_shown_on_demand(site, browser):
    browser.get((site / "goodness-study-fashion-mnist-mini.html").as_uri())
    details = browser.find_elements("css selector", "details")
    summaries = [d.find_element("tag name", "summary").text for d in details]
    assert "Every seed's value" in summaries and "Show the provenance of every configuration" in summaries
    seeds = details[summaries.index("Every seed's value")]
    assert not seeds.find_element("tag name", "table").is_displayed()
    seeds.find_element("tag name", "summary").click()
    heads = [h.text for h in seeds.find_elements("css selector", "thead th")]
    assert heads == ["layer", "configuration", "stat", "seed 0", "seed 1", "seed 2"]


def test_text_from_a_board_is_escaped():
    board = lb.read_board(ROOT / "leaderboards" / "fashion-mnist.parquet")
    hostile = '<img src=x onerror="alert(1)">'
    board = board.assign(rule_id=board["rule_id"].str.replace("bp[", f"bp{hostile}[", regex=False))
    board = board.assign(rule=board["rule"].astype("string"))
    page = lb.build_page(board, "fashion-mnist", lb.aggregate(board))
    text = board_html(page, [], [])
    assert hostile not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text
    assert text.count("<script>") == 1  # the sort script, nothing else


def test_a_site_is_not_written_over_a_folder_of_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FFBenchError, match="not an ffbench site"):
        build_site(tmp_path, ROOT / "leaderboards", figures=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
