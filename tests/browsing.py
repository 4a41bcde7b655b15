"""Browser tests' shared parts: Debian's Chromium driven by Playwright, one numbered screenshot per
step under ``test-results/<test>/`` (``TGC_SCREENSHOT_DIR`` to put them elsewhere), and the
django-q2 worker's part in a thread. The ``browser`` and ``worker`` fixtures are in conftest."""

from __future__ import annotations

import os
import queue
import re
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("TGC_SCREENSHOT_DIR", ROOT / "test-results"))
# The pictures in docs/ are taken by the browser tests (Browser.doc_shot), so they show the pages
# as the code draws them: `TGC_DOC_SCREENSHOTS=1 scripts/test -m browser` writes them anew.
DOC_IMAGES = ROOT / "docs" / "img"


class Browser:
    """One page, the live server's address, and a numbered screenshot per step."""

    def __init__(self, page, base_url: str, folder: Path):
        self.page = page
        self.base = base_url
        self.folder = folder
        self.steps = 0

    def go(self, path: str):
        return self.page.goto(f"{self.base}{path}")

    def shot(self, name: str) -> None:
        self.steps += 1
        self.page.screenshot(path=str(self.folder / f"{self.steps:02d}-{name}.png"), full_page=True)

    def doc_shot(self, name: str) -> None:
        """The step's screenshot, and (with ``TGC_DOC_SCREENSHOTS`` set) the same page as
        ``docs/img/<name>.png``, the picture the user guide shows: 1280 px wide, the first screen."""
        self.shot(name)
        if os.environ.get("TGC_DOC_SCREENSHOTS"):
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(DOC_IMAGES / f"{name}.png"))

    def login(self, username: str) -> None:
        self.go("/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", f"{username}-password-1")
        self.page.click("input[type=submit]")
        self.page.wait_for_selector("#site-name")

    def messages(self) -> str:
        return self.page.inner_text(".messagelist") if self.page.locator(".messagelist").count() else ""


class Worker:
    """The django-q2 worker's part, in a thread: runs ``drive_campaign`` for each campaign the app
    enqueues, once :meth:`start` is called (until then tasks wait in the queue)."""

    def __init__(self):
        self.tasks: queue.Queue[int] = queue.Queue()
        self.go = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[BaseException] = []

    def enqueue(self, campaign_id: int) -> None:
        self.tasks.put(campaign_id)

    def start(self) -> None:
        self.go.set()

    def _run(self) -> None:
        from django.db import connection

        from campaigns import tasks

        try:
            while not self.stop.is_set():
                if not self.go.wait(0.05):
                    continue
                try:
                    campaign_id = self.tasks.get(timeout=0.05)
                except queue.Empty:
                    continue
                tasks.drive_campaign(campaign_id)
        except BaseException as exc:  # reported by the fixture: a worker crash fails the test
            self.errors.append(exc)
        finally:
            connection.close()


def progress_numbers(page) -> dict[str, int]:
    """The counts the progress block shows now ("Sent 3", "Waiting 4")."""
    text = page.inner_text("#tgc-progress .tgc-summary")
    return {label.lower(): int(n) for label, n in re.findall(r"([A-Z][a-z]+(?: now)?) (\d+)", text)}
