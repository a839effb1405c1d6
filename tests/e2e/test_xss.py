"""A card full of script / iframe / onerror / javascript: payloads renders without running any of them (issue 6,
third must-show): no dialog opens, no console message from a payload, and the DOM keeps none of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from huggingface_hub import HfApi
from playwright.sync_api import ConsoleMessage, Dialog, Page

from .conftest import login, snap

PAYLOADS = """
# Innocent title

<script>alert('script')</script>
<script src="https://evil.example/x.js"></script>
<img src="x" onerror="alert('onerror')">
<img src=x onerror=console.log('XSS-onerror')>
<iframe src="javascript:alert('iframe')"></iframe>
<iframe srcdoc="<script>alert('srcdoc')</script>"></iframe>

[markdown link](javascript:alert('mdlink'))

<a href="javascript:alert('href')" id="jslink">html link</a>
<a href="JaVaScRiPt:console.log('XSS-mixed')">mixed case link</a>
<a href="&#106;avascript:alert('entity')">entity link</a>

<svg><script>alert('svg')</script></svg>
<svg onload="alert('svgonload')"></svg>
<details open ontoggle="console.log('XSS-toggle')"><summary>toggle</summary>body</details>
<body onload="alert('body')">
<object data="javascript:alert('object')"></object>
<embed src="javascript:alert('embed')">
<form action="javascript:alert('form')"><button id="xss-btn">go</button></form>
<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')></style></mglyph></table></mtext></math>
<div style="background:url(javascript:alert('css'))" onmouseover="alert('hover')">hover me</div>
<meta http-equiv="refresh" content="0;url=javascript:alert('meta')">
<base href="javascript:alert('base')//">
<link rel="import" href="https://evil.example/x.html">

![img](javascript:alert('mdimg'))

```html
<script>alert('shown as code')</script>
```

| a | b |
|---|---|
| <img src=x onerror=alert('cell')> | ok |
"""
CARD = "---\nlicense: mit\ntags:\n- e2e-xss\n---\n" + PAYLOADS


@pytest.fixture(scope="module")
def xss_repo(api: HfApi) -> str:
    rid = "alice/e2e-xss-card"
    api.create_repo(rid, exist_ok=True)
    api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=CARD.encode())
    api.upload_file(repo_id=rid, path_in_repo="docs/notes.md", path_or_fileobj=PAYLOADS.encode())
    return rid


def assert_inert(page: Page, dialogs: list[Dialog], console: list[str]) -> None:
    page.wait_for_timeout(300)  # let any onerror/onload fire if one survived
    assert not dialogs, [d.message for d in dialogs]
    assert not [m for m in console if "XSS" in m], console
    found: dict[str, Any] = page.evaluate("""() => ({
      scripts: [...document.scripts].map(s => s.getAttribute('src') || 'inline:' + s.textContent.slice(0, 40)),
      frames: document.querySelectorAll(
        'iframe, frame, object, embed, base, meta[http-equiv], link[rel=import]').length,
      onattrs: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))
                 .filter(n => n.startsWith('on')),
      jsurls: [...document.querySelectorAll('[href], [src], [action], [data], [formaction]')]
                 .flatMap(e => ['href', 'src', 'action', 'data', 'formaction'].map(k => e.getAttribute(k) || ''))
                 .filter(v => /^\\s*javascript:/i.test(v.replace(/[\\u0000-\\u0020]/g, ''))),
      styles: [...document.querySelectorAll('article [style]')].map(e => e.outerHTML.slice(0, 200)),
    })""")
    assert found["scripts"] == ["/static/vendor/htmx.min.js", "/static/app.js"], found["scripts"]
    assert found["frames"] == 0
    assert found["onattrs"] == []
    assert found["jsurls"] == []
    assert found["styles"] == []


def watch(page: Page) -> tuple[list[Dialog], list[str]]:
    dialogs: list[Dialog] = []
    console: list[str] = []

    def on_dialog(d: Dialog) -> None:
        dialogs.append(d)
        d.dismiss()

    def on_console(m: ConsoleMessage) -> None:
        console.append(m.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    return dialogs, console


@pytest.mark.parametrize("who", ["anon", "alice"])
def test_card_payloads_do_not_run(new_page: Callable[..., Page], xss_repo: str, who: str) -> None:
    page = new_page(who)
    dialogs, console = watch(page)
    if who != "anon":
        login(page, who)
    page.goto(f"/{xss_repo}")
    snap(page, "repo-card")
    card = page.locator("article.card-body")
    assert card.locator("h1").inner_text() == "Innocent title"
    assert "<script>alert('shown as code')</script>" in card.locator("pre").first.inner_text()
    assert card.locator("table").count() == 1
    assert_inert(page, dialogs, console)
    # Hovering and clicking what is left of the links runs nothing either.
    page.get_by_text("hover me").hover()
    assert card.locator("a", has_text="markdown link").count() == 0  # markdown-it leaves it as text
    for name in ("html link", "mixed case link", "entity link"):
        link = card.locator("a", has_text=name)
        assert link.get_attribute("href") is None
        link.click()
    page.get_by_text("toggle", exact=True).click()
    assert page.url.endswith(f"/{xss_repo}")
    assert_inert(page, dialogs, console)

    for path in ("README.md", "docs/notes.md"):
        page.goto(f"/{xss_repo}/blob/main/{path}")
        snap(page, f"blob-{path}")
        assert page.locator("article.markdown h1").inner_text() == "Innocent title"
        page.locator("details", has_text="Source").locator("summary").first.click()
        assert "onerror=" in page.locator("details .hl").first.inner_text()  # the source is shown, as text
        assert_inert(page, dialogs, console)
    page.goto(f"/{xss_repo}/commits/main")
    snap(page, "history")
    with page.expect_navigation():
        page.locator("ol.commits li a.title").first.click()
    snap(page, "commit")
    assert_inert(page, dialogs, console)
