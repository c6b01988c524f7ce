"""Open a report in a real browser (headless Chromium) and check that it loads.

A static page can look right in a text editor and still be broken in a browser: a wrong relative
path, an image that is not a PNG, a video codec the browser cannot decode. This loads the page in
Chromium's headless shell (Debian's `chromium-headless-shell`, installed by scripts/setup.sh) inside
a small wrapper page that reports, for every <img>, whether it decoded, and for every <video>,
whether its metadata loaded; the DOM is dumped once the page's timers have run.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from wam.errors import WamError

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser")

_WRAPPER = """<!doctype html><html><body><pre id="out">pending</pre>
<iframe id="page" src="{src}" width="1200" height="900"></iframe>
<script>
const frame = document.getElementById('page');
frame.addEventListener('load', async () => {{
  const doc = frame.contentDocument;
  const images = [...doc.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);
  const videos = await Promise.all([...doc.querySelectorAll('video')].map(v => new Promise(done => {{
    if (v.readyState >= 1) return done([v.getAttribute('src'), true]);
    v.addEventListener('loadedmetadata', () => done([v.getAttribute('src'), true]));
    v.addEventListener('error', () => done([v.getAttribute('src'), false]));
    setTimeout(() => done([v.getAttribute('src'), v.readyState >= 1]), 8000);
  }})));
  document.getElementById('out').textContent = JSON.stringify({{title: doc.title, images, videos}});
}});
</script></body></html>
"""


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise WamError(f"no headless Chromium found (looked for {', '.join(BROWSERS)}); run scripts/setup.sh, which installs chromium-headless-shell")


def check_in_browser(page: Path, timeout_s: float = 60.0) -> dict:
    """Load `page` in headless Chromium. Returns {"title", "images": {src: loaded}, "videos": {src: loaded}}."""
    page = Path(page).resolve()
    if not page.is_file():
        raise WamError(f"no report page at {page}")
    browser = find_browser()
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = Path(tmp) / "check.html"
        wrapper.write_text(_WRAPPER.format(src=html.escape(page.as_uri())))
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
               "--virtual-time-budget=20000", "--dump-dom", wrapper.as_uri()]
        try:
            dom = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False).stdout
        except subprocess.TimeoutExpired:
            raise WamError(f"{Path(browser).name} did not finish loading {page} within {timeout_s:.0f} s") from None
    match = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    if match is None or match.group(1) == "pending":
        raise WamError(f"{Path(browser).name} did not load {page} (no result in the dumped page)")
    result = json.loads(html.unescape(match.group(1)))
    return {"title": result["title"], "images": dict(result["images"]), "videos": dict(result["videos"])}
