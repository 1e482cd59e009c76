"""The site in a real browser: Debian's chromium driven by selenium, one session for every page.

Each page is opened from file:// at 1400 pixels wide and checked: KaTeX rendered every
formula that the build put in (no error element), nothing loaded from anything but file:,
every link to a page of the site lands on an existing anchor, every diff hunk has its
annotation cell, nothing overflows sideways; a screenshot of each page goes to
build/screenshots/, which CI keeps. `.ci/run` installs chromium, chromium-driver and KaTeX.
"""
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from docs.build import PARENTS, VARIANTS, build, diff_page
from tests.helpers import REPO

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = REPO / "build" / "screenshots"
WIDTH = 1400
# Keep chromium off the network and away from any profile but a fresh one.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps",
         f"--window-size={WIDTH},1000"]
PAGES = (["index.html"] + [f"{variant}.html" for variant in VARIANTS]
         + [diff_page(child) for child in PARENTS]
         + [f"{path.stem}.html" for path in sorted((REPO / "docs").glob("*.md"))])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    build(out)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        message = "chromium and chromedriver: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs them: a missing browser is a broken .ci/run
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    # The driver's path given: selenium does not look for (or download) one of its own.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_window_size(WIDTH, 1000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def open_page(browser, site, page):
    browser.get((site / page).as_uri())
    # Lazy images load once scrolled to: scroll through the page, then back to the top.
    browser.execute_script("""
        for (const image of document.images) { image.loading = 'eager'; }
        return Promise.all(Array.from(document.images).map(image => image.complete ? null :
            new Promise(done => { image.onload = image.onerror = done; })));""")
    return browser


def anchors_of(path, cache={}):
    if path not in cache:
        cache[path] = set(re.findall(r'\sid="([^"]+)"', path.read_text()))
    return cache[path]


def test_every_variant_and_every_diff_has_its_page(site):
    assert sorted(PAGES) == sorted(page for page in PAGES if (site / page).is_file())
    assert len(PAGES) >= 1 + 5 + 4


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_its_math_loads_only_files_and_links_to_existing_anchors(browser, site, page):
    open_page(browser, site, page)
    script = """
        const body = document.body;
        return {
          errors: document.querySelectorAll('.katex-error').length,
          rendered: document.querySelectorAll('.katex').length,
          mathml: document.querySelectorAll('.katex math').length,
          expected: Number(body.dataset.formulas),
          resources: performance.getEntriesByType('resource').map(entry => entry.name),
          sources: Array.from(document.querySelectorAll('[src], link[href]'))
                        .map(element => element.src || element.href),
          links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
          images: Array.from(document.images).map(image => [image.src, image.complete && image.naturalWidth > 0]),
          width: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
        };"""
    found = browser.execute_script(script)
    browser.save_screenshot(str(SCREENSHOTS / f"{page}.png"))
    assert found["errors"] == 0
    assert found["rendered"] == found["expected"] == found["mathml"]
    if page in ("wgan_gp.html", "wgan-wgan_gp.html"):
        assert found["rendered"] > 0  # the check above has formulas to count
    loaded = found["resources"] + found["sources"]
    assert loaded and all(url.startswith("file:") for url in loaded), loaded
    assert found["width"] <= found["viewport"], "the page scrolls sideways at 1400 pixels"
    missing = [src for src, shown in found["images"] if not shown]
    assert not missing, f"images that did not load: {missing}"
    broken = []
    for url in found["links"]:
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https"):
            continue  # the papers on arXiv: links to follow, not resources the page loads
        assert parsed.scheme == "file", url
        target = Path(unquote(parsed.path))
        if not target.is_file() or (parsed.fragment and parsed.fragment not in anchors_of(target)):
            broken.append(url.replace(site.as_uri(), ""))
    assert not broken, f"links to nothing: {broken[:5]}"


@pytest.mark.parametrize("child", PARENTS)
def test_every_hunk_has_its_annotation_cell(browser, site, child):
    open_page(browser, site, diff_page(child))
    cells = browser.execute_script("""
        return Array.from(document.querySelectorAll('tbody.hunk')).map(hunk => [
          hunk.querySelectorAll('td.annotation').length,
          hunk.querySelectorAll('td.annotation li').length,
          hunk.querySelector('td.annotation') ? hunk.querySelector('td.annotation').innerText.trim() : '']);""")
    assert len(cells) >= 3, "a diff page with fewer hunks than files"
    assert all(count == 1 and notes >= 1 and text for count, notes, text in cells), cells


def test_the_source_pages_open_and_link_within_the_site(browser, site):
    pages = sorted((site / "src").rglob("*.html"))
    assert any(path.name == "test_losses.py.html" for path in pages)
    for path in pages:
        browser.get(path.as_uri())
        width, viewport = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth];")
        name = path.relative_to(site).as_posix().replace("/", "-")
        browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
        assert width <= viewport, path
