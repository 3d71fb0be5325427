"""What a staff member does in the console, step by step, shared by the browser tests."""

import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from crm.models import User

PASSWORD = "pw"  # what StaffFactory sets


def log_in(page: Page, user: User) -> None:
    """Through the admin's own login form, as a person would."""
    page.goto("/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#user-tools")).to_contain_text(user.get_short_name() or user.username)


def message(page: Page, level: str):
    """The admin's messages of one level (success, error, info) on the current page."""
    return page.locator(f"ul.messagelist li.{level}")


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path | None:
    """Saves a screenshot under $SCREENSHOTS when it is set, so that normal runs write nothing."""
    folder = os.environ.get("SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


def csp_violations(page: Page) -> list[str]:
    """What the page's Content-Security-Policy blocks from now on, as the browser reports it (the
    `securitypolicyviolation` events and the console's messages); the list fills as it goes."""
    violations: list[str] = []

    def report(violation: str) -> None:
        violations.append(violation)

    page.expose_function("reportCspViolation", report)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (event) =>"
        " window.reportCspViolation(`${event.effectiveDirective} blocked ${event.blockedURI}"
        " at ${event.sourceFile}:${event.lineNumber}`));"
    )
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations
