"""A readable device name from a User-Agent header ("Firefox 128 on Windows").

Deliberately small: the demo only needs to tell a user's devices apart on the "your
active sessions" list, not to identify every browser ever shipped.
"""

from __future__ import annotations

import re

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"OPR/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:HeadlessChrome|Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/"),
    ("curl", r"curl/(\d+)"),
    ("Python", r"python-\w+/(\d+)"),
)
_SYSTEMS = (
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("ChromeOS", r"CrOS"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
)


def describe_user_agent(user_agent: str | None) -> str:
    """ "Chrome 126 on macOS"; "Unknown browser" when nothing is recognised."""
    agent = (user_agent or "")[:512]
    browser = "Unknown browser"
    for name, pattern in _BROWSERS:
        found = re.search(pattern, agent)
        if found:
            browser = f"{name} {found.group(1)}"
            break
    for name, pattern in _SYSTEMS:
        if re.search(pattern, agent):
            return f"{browser} on {name}"
    return browser
