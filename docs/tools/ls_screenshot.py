"""Screenshot a Label Studio page as a logged-in user, for the docs.

Label Studio's pages need a browser session. This logs in over HTTP (the login form with its
CSRF token), hands the session cookie to headless Chromium (winnow.services.browser), opens
the page, waits until the given text shows and saves a PNG.

    python docs/tools/ls_screenshot.py --url http://127.0.0.1:8080 --email admin@example.com \
        --password ... --path "/projects/1/data?tab=2" --wait-for "Review: label issues" \
        --out docs/images/review_queue.png
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import httpx

from winnow.services.browser import HeadlessBrowser


def login(url: str, email: str, password: str) -> dict[str, str]:
    """Session cookies of ``email`` after a form login."""
    with httpx.Client(base_url=url, follow_redirects=False, trust_env=False) as http:
        page = http.get("/user/login/")
        token = http.cookies.get("csrftoken") or _form_token(page.text)
        answer = http.post(
            "/user/login/",
            data={"email": email, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{url}/user/login/", "X-CSRFToken": token},
        )
        if answer.status_code not in (200, 302) or "sessionid" not in http.cookies:
            raise SystemExit(f"login failed (HTTP {answer.status_code})")
        return {k: http.cookies[k] for k in ("sessionid", "csrftoken") if k in http.cookies}


def _form_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not match:
        raise SystemExit("no CSRF token on the login page")
    return match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Label Studio base URL")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--path", default="/projects/", help="page to open, e.g. a queue URL")
    parser.add_argument("--wait-for", action="append", default=[], help="text to wait for")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds for images to load")
    parser.add_argument("--out", type=Path, default=Path("docs/images/review_queue.png"))
    parser.add_argument("--size", default="1400x900")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    base = args.url.rstrip("/")
    cookies = login(base, args.email, args.password)
    with HeadlessBrowser(size=(width, height), timeout_s=60) as browser:
        browser.open(base + args.path, cookies=cookies)
        if args.wait_for:
            browser.wait_for_text(*args.wait_for)
        time.sleep(args.settle)
        browser.screenshot(args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
