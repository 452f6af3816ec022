"""Users of the review UI: a JSON file of names with scrypt-hashed passwords.

With users configured the app requires login and records the logged-in name on every decision; with none
(no file, or a file without users) it is a single-user tool that may listen on the loopback address only.

The file (default <data dir>/users.json, or $REVIEW_USERS_FILE) is written with mode 0600:

    {"version": 1, "users": {"zhangsan": {"password": "scrypt$16384$8$1$<salt b64>$<hash b64>",
                                          "display": "张三", "added_at": "2026-11-22T06:30:00+00:00"}}}

CLI (wired into `review users` by review.cli):
    review users add NAME [--display 张三] [--users FILE]   # password from getpass, or $REVIEW_NEW_PASSWORD
    review users list [--users FILE]
    review users remove NAME [--users FILE]
"""
from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import sys
import tempfile
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Optional

from review.models import ReviewError
from review.store import default_data_dir

ENV_FILE = "REVIEW_USERS_FILE"
ENV_NEW_PASSWORD = "REVIEW_NEW_PASSWORD"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
_SALT_BYTES, _KEY_BYTES = 16, 32
_MAXMEM = 64 * 1024 * 1024


def default_path() -> Path:
    """$REVIEW_USERS_FILE, else users.json in the data folder."""
    env = os.environ.get(ENV_FILE, "").strip()
    return Path(env).expanduser() if env else default_data_dir() / "users.json"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
                  salt: Optional[bytes] = None) -> str:
    """"scrypt$n$r$p$salt_b64$hash_b64" with a random 16-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_KEY_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def check_password(password: str, encoded: str) -> bool:
    """True if `password` matches the stored "scrypt$..." string (constant-time compare)."""
    try:
        scheme, n, r, p, salt_b64, key_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        salt, key = base64.b64decode(salt_b64, validate=True), base64.b64decode(key_b64, validate=True)
        got = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p),
                             maxmem=_MAXMEM, dklen=len(key))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, key)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked against for unknown names, so that a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def _valid_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise ReviewError("用户名不能为空，不能含空格或控制字符，最长 64 个字符",
                          "a user name must be 1-64 printable characters without spaces")
    return name


class Users:
    """The users file. Every call reads the file afresh, so users added by the CLI count at once."""

    def __init__(self, path: str | Path | None = None):
        self.path: Path = Path(path).expanduser() if path else default_path()

    # ----------------------------------------------------------------------------------------- reading

    def _load(self) -> dict[str, dict]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ReviewError(f"无法读取用户文件：{self.path}", f"cannot read the users file {self.path}: {e}") from e
        try:
            data = json.loads(text) if text.strip() else {}
            users = data.get("users", {}) if isinstance(data, dict) else None
            if not isinstance(users, dict) or not all(isinstance(u, dict) and isinstance(u.get("password"), str)
                                                      for u in users.values()):
                raise ValueError("no 'users' object of {name: {password, display}}")
        except ValueError as e:
            # Never treat a damaged file as "no users": that would open the app to everyone.
            raise ReviewError(f"用户文件格式错误，请检查或重新创建：{self.path}",
                              f"the users file {self.path} is not valid: {e}") from e
        return users

    @property
    def configured(self) -> bool:
        """True when the file names at least one user (the app then requires login)."""
        return bool(self._load())

    def names(self) -> list[str]:
        return sorted(self._load())

    def display(self, name: str) -> str:
        """The display name (e.g. 张三) of a user, else the login name itself."""
        user = self._load().get(name) or {}
        return (user.get("display") or "").strip() or name

    def verify(self, name: str, password: str) -> bool:
        """True if `name` is a user and `password` is theirs. False for unknown users (after the same work)."""
        user = self._load().get((name or "").strip())
        if not user or not isinstance(password, str):
            check_password(password if isinstance(password, str) else "", _dummy_hash())
            return False
        return check_password(password, user["password"])

    # ----------------------------------------------------------------------------------------- writing

    def add(self, name: str, password: str, display: str | None = None) -> None:
        """Add a user, or set a new password (and display name, if given) for an existing one."""
        name = _valid_name(name)
        if not isinstance(password, str) or not password:
            raise ReviewError("密码不能为空", "the password must not be empty")
        users = self._load()
        old = users.get(name, {})
        entry = {"password": hash_password(password),
                 "display": (display or "").strip() or old.get("display") or "",
                 "added_at": old.get("added_at") or datetime.now(timezone.utc).isoformat(timespec="seconds")}
        users[name] = entry
        self._save(users)

    def remove(self, name: str) -> bool:
        """Remove a user; False if there was no such user."""
        users = self._load()
        if (name or "").strip() not in users:
            return False
        del users[name.strip()]
        self._save(users)
        return True

    def _save(self, users: dict[str, dict]) -> None:
        """Write atomically (temp file + rename) with mode 0600 from the start."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": 1, "users": users}, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".users-", suffix=".tmp", dir=self.path.parent)  # mode 0600
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise


# --------------------------------------------------------------------------- binding

def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, users: Users) -> None:
    """Refuse to serve on a non-loopback address without users (anyone on the network could sign off)."""
    if not is_loopback(host) and not users.configured:
        raise ReviewError(
            f"未配置用户，不能在 {host} 上对外提供服务。请先添加用户：review users add 用户名 --display 姓名"
            f"（用户文件：{users.path}），或仅在本机地址 127.0.0.1 上运行。",
            f"refusing to listen on {host} with no users configured: add one with `review users add NAME` "
            f"(users file {users.path}) or listen on 127.0.0.1 only")


# --------------------------------------------------------------------------- CLI

def _parser() -> argparse.ArgumentParser:
    help_file = f"用户文件（默认 ${ENV_FILE} 或数据目录下的 users.json）"
    # --users is accepted before or after the subcommand; SUPPRESS keeps the subparser from resetting it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--users", metavar="FILE", default=argparse.SUPPRESS, help=help_file)
    p = argparse.ArgumentParser(prog="review users", description="管理审核系统的登录用户")
    p.add_argument("--users", metavar="FILE", default=None, help=help_file)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="{add,list,remove}")
    a = sub.add_parser("add", parents=[common], help="添加用户或重设密码（密码从终端输入，或取自环境变量 "
                                                     f"{ENV_NEW_PASSWORD}）")
    a.add_argument("name", help="登录名")
    a.add_argument("--display", help="显示名，如：张三")
    sub.add_parser("list", parents=[common], help="列出用户")
    r = sub.add_parser("remove", parents=[common], help="删除用户")
    r.add_argument("name", help="登录名")
    return p


def _new_password() -> str:
    env = os.environ.get(ENV_NEW_PASSWORD)
    if env:
        return env
    try:
        first = getpass.getpass("密码 / Password: ")
        second = getpass.getpass("再次输入密码 / Repeat password: ")
    except (EOFError, KeyboardInterrupt) as e:
        raise ReviewError(f"未输入密码（在脚本中可用环境变量 {ENV_NEW_PASSWORD} 提供）",
                          f"no password given (scripts can set {ENV_NEW_PASSWORD})") from e
    if first != second:
        raise ReviewError("两次输入的密码不一致", "the two passwords differ")
    return first


def users_main(argv: list[str]) -> int:
    """`review users add|list|remove`. Returns the exit code: 0 done, 1 refused or failed, 2 bad usage."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2): argparse has printed why
        return e.code if isinstance(e.code, int) else 2
    users = Users(args.users)
    try:
        if args.cmd == "add":
            name = _valid_name(args.name)
            existed = name in users.names()
            password = _new_password()
            users.add(name, password, args.display)
            if len(password) < 8:
                print("提示：密码少于 8 个字符，建议使用更长的密码。", file=sys.stderr)
            what = "已重设用户密码" if existed else "已添加用户"
            print(f"{what}：{name}（{users.display(name)}）  用户文件：{users.path}")
        elif args.cmd == "list":
            names = users.names()
            if not names:
                print(f"未配置用户（用户文件：{users.path}）。添加用户：review users add 用户名 --display 姓名")
            else:
                print(f"用户文件：{users.path}")
                for n in names:
                    d = users.display(n)
                    print(f"{n}\t{d}" if d != n else n)
        elif args.cmd == "remove":
            if not users.remove(args.name):
                print(f"没有该用户：{args.name}（用户文件：{users.path}）", file=sys.stderr)
                return 1
            print(f"已删除用户：{args.name}")
    except ReviewError as e:
        print(e.message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(users_main(sys.argv[1:]))
