"""The rendered leaderboard page in a real headless Chromium: sorting, filtering, and markup shown as text.

Chromium and ChromeDriver come from Debian's packages (`.ci/run` installs them). Without them the test skips
locally, but fails on CI (CI=true), where it must run.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ddmd_bench.leaderboard import render, store
from tests.factories import unit_protocol as _protocol

EVIL = '<script>document.title="pwned"</script><img src=x onerror="window.__xss=1">'


def _rec(protocol, name, fid, acc, nfe):
    return {"schema_version": 1, "status": "ok", "generator": {"name": name, "nfe": nfe},
            "protocol": {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
            "metrics": {"fid": {"status": "ok", "value": fid, "ci_low": fid - 1, "ci_high": fid + 1,
                                "higher_is_better": False},
                        "prompt_accuracy": {"status": "ok", "value": acc, "higher_is_better": True}},
            "latency": {"median": nfe * 0.01, "p90": nfe * 0.012, "device": {"name": "test-cpu"}},
            "notes": "</script><script>window.__xss2=1</script>"}


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium/chromedriver missing on CI: .ci/run must install them")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(flag)
    drv = webdriver.Chrome(service=Service(driver), options=options)
    yield drv
    drv.quit()


@pytest.fixture
def page(tmp_path, browser):
    p = _protocol()
    rows = [("toy-teacher/euler-50/cfg3", 30.0, 0.95, 100), ("toy-teacher/euler-4/nocfg", 80.0, 0.70, 4),
            ("toy-teacher/euler-1/nocfg", 400.0, 0.40, 1), (EVIL, 55.0, 0.50, 8)]
    for name, fid, acc, nfe in rows:
        store.append(tmp_path, p, _rec(p, name, fid, acc, nfe))
    header, entries = store.read(store.path_for(tmp_path, p))
    path = tmp_path / "board.html"
    path.write_text(render.html_page(header, entries), encoding="utf-8")
    browser.get(path.as_uri())
    return browser


def _names(drv):
    from selenium.webdriver.common.by import By

    return [tr.find_elements(By.TAG_NAME, "td")[1].text for tr in drv.find_elements(By.CSS_SELECTOR, "#board tbody tr")]


def _column(drv, label):
    from selenium.webdriver.common.by import By

    return next(th for th in drv.find_elements(By.CSS_SELECTOR, "#board thead th") if th.text.startswith(label))


def test_rows_sort_by_clicked_column(page):
    assert _names(page)[0] == "toy-teacher/euler-50/cfg3"  # default: FID ascending
    _column(page, "acc held-in").click()
    assert _names(page)[:3] == ["toy-teacher/euler-50/cfg3", "toy-teacher/euler-4/nocfg", EVIL]
    _column(page, "FID").click()
    _column(page, "FID").click()  # second click reverses
    assert _names(page)[0] == "toy-teacher/euler-1/nocfg"
    _column(page, "NFE").click()
    assert _names(page)[0] == "toy-teacher/euler-1/nocfg" and _names(page)[-1] == "toy-teacher/euler-50/cfg3"


def test_filter_keeps_matching_rows(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "filter").send_keys("nocfg")
    assert sorted(_names(page)) == ["toy-teacher/euler-1/nocfg", "toy-teacher/euler-4/nocfg"]
    page.find_element(By.ID, "filter").clear()
    page.find_element(By.ID, "filter").send_keys("x")  # clear() fires no input event; type to refresh
    assert EVIL in _names(page)


def test_markup_in_entries_is_text_and_never_runs(page):
    from selenium.webdriver.common.by import By

    assert EVIL in _names(page)
    assert page.title.startswith("ddmd-bench leaderboard")
    assert page.execute_script("return [window.__xss, window.__xss2]") == [None, None]
    page.find_elements(By.CSS_SELECTOR, "#board summary")[0].click()  # open a record
    assert "</script><script>" in page.find_element(By.CSS_SELECTOR, "#board pre.record").text
    assert page.execute_script("return document.querySelectorAll('#board img, #board script').length") == 0


def test_plots_are_inline_images(page):
    from selenium.webdriver.common.by import By

    images = page.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(images) == 2
    assert all(page.execute_script("return arguments[0].naturalWidth", im) > 100 for im in images)


def test_a_board_without_latency_renders_with_its_directions():
    # published numbers carry no latency: the latency plot is empty, not an error
    path = Path(__file__).resolve().parents[2] / "leaderboards" / "paper-dmd2-sd15-coco30k-v1.jsonl"
    header, entries = store.read(path)
    page = render.html_page(header, entries)
    data = json.loads(page.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    assert [r["name"] for r in data["rows"]] == [e.record["generator"]["name"] for e in entries]
    assert "fid" in data["lower_is_better"] and page.count('<figure><img alt="') == 2
