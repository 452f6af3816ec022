"""Who may use the page: login attempts slowed and locked out after repeated failures (and logged), and every
request's session checked against the users file as it is now (a removed user's session stops working).

Gradio keeps the sessions in `app.tokens` ({cookie token: user name}) and asks `app.tokens.get(token)` on every
request (page, API, queue, files). CheckedTokens answers None for a user no longer in the users file, and forgets
that session, so the request is refused as not logged in.
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Optional

from review.models import ReviewError

MAX_FAILURES = int(os.environ.get("REVIEW_LOGIN_MAX_FAILURES", "5"))  # failures in a row before a lockout
LOCK_SECONDS = float(os.environ.get("REVIEW_LOGIN_LOCK_SECONDS", "900"))  # how long a name stays locked
FAIL_DELAY = float(os.environ.get("REVIEW_LOGIN_FAIL_DELAY", "1.0"))  # seconds a failed attempt waits, doubling
MAX_DELAY = 8.0


class LoginGuard:
    """The auth function given to Gradio: checks the users file; one attempt at a time; each failure for a name
    waits longer (1, 2, 4, 8 s); MAX_FAILURES failures lock the name for LOCK_SECONDS (even the right password
    is refused meanwhile). Every attempt is logged to <data>/login.log and to the server's output."""

    def __init__(self, users, data_dir: Optional[Path] = None, max_failures: int = MAX_FAILURES,
                 lock_seconds: float = LOCK_SECONDS, fail_delay: float = FAIL_DELAY):
        self.users, self.log_path = users, (Path(data_dir) / "login.log" if data_dir else None)
        self.max_failures, self.lock_seconds, self.fail_delay = max_failures, lock_seconds, fail_delay
        self.failures: dict[str, int] = {}
        self.locked_until: dict[str, float] = {}
        self.recent: deque = deque(maxlen=1000)  # times of recent failures, any name
        self._lock: Optional[asyncio.Lock] = None

    def log(self, text: str) -> None:
        line = f"{datetime.now().astimezone().isoformat(timespec='seconds')} {text}"
        print(line, file=sys.stderr, flush=True)
        if self.log_path is not None:
            try:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError:
                pass

    async def check(self, username: str, password: str) -> bool:
        """The auth function (a coroutine function, as Gradio awaits only those)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        name = (username or "").strip()[:64]
        async with self._lock:  # one attempt at a time: a flood of guesses waits in line
            now = time.monotonic()
            if self.locked_until.get(name, 0) > now:
                left = int(self.locked_until[name] - now)
                self.log(f"登录被拒绝：账号 {name!r} 已锁定（还剩 {left} 秒）")
                await asyncio.sleep(self.fail_delay)
                return False
            try:
                ok = await asyncio.to_thread(self.users.verify, name, password)
            except ReviewError as e:  # the users file was damaged while the app ran: nobody gets in
                self.log(f"登录失败：{e.message}")
                return False
            if ok:
                self.failures.pop(name, None)
                self.locked_until.pop(name, None)
                self.log(f"登录成功：{name!r}")
                return True
            n = self.failures[name] = self.failures.get(name, 0) + 1
            self.recent.append(now)
            if n >= self.max_failures:
                self.locked_until[name] = now + self.lock_seconds
                self.failures[name] = 0
                self.log(f"登录失败：账号 {name!r} 连续 {n} 次密码错误，锁定 {int(self.lock_seconds)} 秒")
            else:
                self.log(f"登录失败：账号 {name!r} 密码错误（连续第 {n} 次）")
            await asyncio.sleep(min(MAX_DELAY, self.fail_delay * 2 ** (n - 1)))
            return False


class CheckedTokens(dict):
    """Gradio's sessions: a session whose user is no longer in the users file is forgotten when next used."""

    def __init__(self, users, initial: Optional[dict] = None):
        super().__init__(initial or {})
        self.users = users

    def get(self, token, default=None):
        user = super().get(token)
        if user is None:
            return default
        try:
            known = user in self.users.names()
        except ReviewError:
            known = False  # a damaged users file: nobody is logged in
        if not known:
            self.pop(token, None)
            print(f"{datetime.now().astimezone().isoformat(timespec='seconds')} 会话已失效：用户 {user!r} "
                  "已不在用户文件中", file=sys.stderr, flush=True)
            return default
        return user


def harden(demo, services) -> None:
    """After launch: sessions checked against the users file on every request."""
    app = getattr(demo, "server_app", None) or getattr(demo, "app", None)
    if app is not None and services.require_login:
        app.tokens = CheckedTokens(services.users, dict(app.tokens))
