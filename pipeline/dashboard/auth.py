"""Who may sign in, and how a request proves it: users, passwords, sessions, CSRF tokens, login throttling.

- Passwords are hashed with Argon2id (``argon2-cffi`` defaults); hashes are re-computed on sign-in when the
  parameters change. An unknown user name costs the same hash as a wrong password.
- A session is a random 256-bit token in an HttpOnly, SameSite=Lax cookie (``__Host-`` prefixed and Secure
  under TLS), signed with the session secret; Elasticsearch keeps only its SHA-256, so the sessions index
  holds nothing that signs anyone in. Sign-out deletes it; disabling a user deletes all of theirs; every
  request re-reads the user, so a role change or a disable takes effect at once.
- Every session has a synchronizer CSRF token that state-changing requests must echo (form field
  ``csrf_token`` or header ``X-CSRF-Token``); the sign-in form uses a signed double-submit cookie.
- Failed sign-ins are counted per user name + address and per address; past the limit, sign-in answers 429
  with ``Retry-After`` until the window passes.

Example (what ``ims-monitor users add`` does)::

    await create_user(client, indices, username="hr.lead", password="a long passphrase", role=Role.admin)
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from pipeline.dashboard.errors import LoginThrottled, UserError
from pipeline.dashboard.indices import DashboardIndices
from pipeline.dashboard.models import Principal, Role, UserOut
from pipeline.settings import DashboardSettings, Settings

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD_CHARS = 12
SESSION_TOUCH_EVERY_S = 60

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# ----------------------------------------------------------------------------------------------- secrets
def session_secret_file(settings: Settings) -> Path:
    return settings.infra.home / "dashboard" / "session_secret"


def load_or_create_session_secret(settings: Settings) -> str:
    """``IMS_DASHBOARD__SESSION_SECRET`` if set, else the generated file (created on first start, mode 0600)."""
    if settings.dashboard.session_secret is not None:
        return settings.dashboard.session_secret.get_secret_value()
    path = session_secret_file(settings)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(secret, encoding="utf-8")
    tmp.replace(path)
    return secret


# ------------------------------------------------------------------------------------------------ users
def validate_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise UserError("user names are 2-64 characters: a-z, 0-9, '.', '_', '@', '-' (starting with a letter or digit)")
    return name


def validate_password(password: str, *, username: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"passwords need at least {MIN_PASSWORD_CHARS} characters")
    if username.lower() in password.lower():
        raise UserError("the password must not contain the user name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (a missing hash is checked against a dummy)."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _user_out(doc: dict[str, Any]) -> UserOut:
    return UserOut(username=doc["username"], role=Role(doc["role"]), display_name=doc.get("display_name"),
                   disabled=bool(doc.get("disabled")), created_at=doc.get("created_at"),
                   last_login_at=doc.get("last_login_at"))


async def create_user(client: AsyncElasticsearch, indices: DashboardIndices, *, username: str, password: str,
                      role: Role, display_name: str | None = None) -> UserOut:
    name = validate_username(username)
    validate_password(password, username=name)
    doc = {"username": name, "display_name": display_name, "password_hash": hash_password(password),
           "role": role.value, "disabled": False, "created_at": now_iso(), "updated_at": now_iso()}
    try:
        await client.create(index=indices.users, id=name, document=doc, refresh="wait_for")
    except ConflictError:
        raise UserError(f"user {name!r} already exists") from None
    return _user_out(doc)


async def get_user(client: AsyncElasticsearch, indices: DashboardIndices, *, username: str) -> dict[str, Any] | None:
    try:
        return (await client.get(index=indices.users, id=username))["_source"]
    except NotFoundError:
        return None


async def list_users(client: AsyncElasticsearch, indices: DashboardIndices) -> list[UserOut]:
    result = await client.search(index=indices.users, size=1000, sort=[{"username": "asc"}],
                                 source_excludes=["password_hash"])
    return [_user_out(hit["_source"]) for hit in result["hits"]["hits"]]


async def set_user_disabled(client: AsyncElasticsearch, indices: DashboardIndices, *, username: str,
                            disabled: bool) -> UserOut:
    """Disable (or re-enable) a user; disabling also ends every session the user has."""
    name = validate_username(username)
    if await get_user(client, indices, username=name) is None:
        raise UserError(f"no user {name!r}")
    await client.update(index=indices.users, id=name, doc={"disabled": disabled, "updated_at": now_iso()},
                        refresh="wait_for")
    if disabled:
        await end_sessions_of(client, indices, username=name)
    user = await get_user(client, indices, username=name)
    assert user is not None
    return _user_out(user)


async def set_user_password(client: AsyncElasticsearch, indices: DashboardIndices, *, username: str,
                            password: str) -> None:
    name = validate_username(username)
    validate_password(password, username=name)
    if await get_user(client, indices, username=name) is None:
        raise UserError(f"no user {name!r}")
    await client.update(index=indices.users, id=name,
                        doc={"password_hash": hash_password(password), "updated_at": now_iso()}, refresh="wait_for")
    await end_sessions_of(client, indices, username=name)


async def end_sessions_of(client: AsyncElasticsearch, indices: DashboardIndices, *, username: str) -> int:
    """Delete every session of ``username`` (the node has no delete-by-query: search, then bulk delete)."""
    ended = 0
    while True:
        await client.indices.refresh(index=indices.sessions)
        found = await client.search(index=indices.sessions, query={"term": {"username": username}}, size=1000,
                                    source=False)
        ids = [hit["_id"] for hit in found["hits"]["hits"]]
        if not ids:
            return ended
        await client.bulk(operations=[{"delete": {"_index": indices.sessions, "_id": i}} for i in ids], refresh=True)
        ended += len(ids)


async def authenticate(client: AsyncElasticsearch, indices: DashboardIndices, *, username: str,
                       password: str) -> dict[str, Any] | None:
    """The user document when the password is right and the user enabled; else None (same cost either way)."""
    name = username.strip().lower()
    user = await get_user(client, indices, username=name) if USERNAME_PATTERN.match(name) else None
    ok = verify_password(user.get("password_hash") if user else None, password)
    if not ok or user is None or user.get("disabled"):
        return None
    update: dict[str, Any] = {"last_login_at": now_iso()}
    if _hasher.check_needs_rehash(user["password_hash"]):
        update["password_hash"] = hash_password(password)
    await client.update(index=indices.users, id=name, doc=update)
    return user


# --------------------------------------------------------------------------------------------- sessions
class SessionManager:
    """Issues and checks session cookies; the session state lives in ``<prefix>-sessions``."""

    def __init__(self, client: AsyncElasticsearch, indices: DashboardIndices, *, secret: str,
                 config: DashboardSettings) -> None:
        self.client = client
        self.indices = indices
        self.config = config
        self._session_signer = TimestampSigner(secret, salt="ims-dashboard-session")
        self._login_signer = TimestampSigner(secret, salt="ims-dashboard-login-csrf")

    @staticmethod
    def _doc_id(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    async def create(self, *, username: str, ip: str | None, user_agent: str | None) -> str:
        """Start a session; returns the signed cookie value."""
        token = secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.UTC)
        doc = {"username": username, "csrf_token": secrets.token_urlsafe(32), "created_at": now_iso(),
               "last_seen_at": now_iso(), "ip": ip, "user_agent": (user_agent or "")[:500],
               "expires_at": (now + dt.timedelta(seconds=self.config.session_ttl_s)).isoformat()}
        await self.client.index(index=self.indices.sessions, id=self._doc_id(token), document=doc)
        return self._session_signer.sign(token).decode("ascii")

    def _token(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self._session_signer.unsign(cookie, max_age=self.config.session_ttl_s).decode("ascii")
        except (BadSignature, SignatureExpired, UnicodeDecodeError):
            return None

    async def load(self, cookie: str | None) -> Principal | None:
        """The principal of a valid, unexpired, recently used session of an enabled user; else None."""
        token = self._token(cookie)
        if token is None:
            return None
        doc_id = self._doc_id(token)
        try:
            session = (await self.client.get(index=self.indices.sessions, id=doc_id))["_source"]
        except NotFoundError:
            return None
        now = dt.datetime.now(dt.UTC)
        idle = (now - _parse_iso(session["last_seen_at"])).total_seconds()
        if now >= _parse_iso(session["expires_at"]) or idle > self.config.session_idle_s:
            await self.client.options(ignore_status=404).delete(index=self.indices.sessions, id=doc_id)
            return None
        user = await get_user(self.client, self.indices, username=session["username"])
        if user is None or user.get("disabled"):
            return None
        if idle > SESSION_TOUCH_EVERY_S:
            await self.client.update(index=self.indices.sessions, id=doc_id, doc={"last_seen_at": now_iso()})
        return Principal(username=user["username"], role=Role(user["role"]), display_name=user.get("display_name"),
                         session_id=doc_id, csrf_token=session["csrf_token"])

    async def purge_expired(self) -> int:
        """Delete sessions past their lifetime or idle limit (run at start; expired ones also go when used)."""
        idle_cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.config.session_idle_s)
        await self.client.indices.refresh(index=self.indices.sessions)
        found = await self.client.search(index=self.indices.sessions, size=10_000, source=False, query={"bool": {
            "should": [{"range": {"expires_at": {"lte": "now"}}},
                       {"range": {"last_seen_at": {"lte": idle_cutoff.isoformat()}}}]}})
        ids = [hit["_id"] for hit in found["hits"]["hits"]]
        if ids:
            await self.client.bulk(operations=[{"delete": {"_index": self.indices.sessions, "_id": i}} for i in ids])
        return len(ids)

    async def end(self, principal: Principal) -> None:
        await self.client.options(ignore_status=404).delete(index=self.indices.sessions, id=principal.session_id,
                                                            refresh=True)

    # The sign-in form has no session yet: a signed double-submit token (cookie nonce == signed form value).
    def new_login_csrf(self) -> tuple[str, str]:
        """(cookie value, form value)."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self._login_signer.sign(nonce).decode("ascii")

    def check_login_csrf(self, *, cookie: str | None, form_value: str | None) -> bool:
        if not cookie or not form_value:
            return False
        try:
            nonce = self._login_signer.unsign(form_value, max_age=3600).decode("ascii")
        except (BadSignature, SignatureExpired, UnicodeDecodeError):
            return False
        return hmac.compare_digest(nonce, cookie)


def check_csrf_token(principal: Principal, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(principal.csrf_token, presented or "")


# ------------------------------------------------------------------------------------------- throttling
class LoginThrottle:
    """Counts failed sign-ins in a sliding window, per user name + address and per address (in memory).

    One dashboard process serves a deployment; a restart forgets the counts, which only shortens a lock-out.
    """

    def __init__(self, *, max_failures: int, max_failures_per_ip: int, window_s: int,
                 clock: Any = time.monotonic) -> None:
        self.max_failures = max_failures
        self.max_failures_per_ip = max_failures_per_ip
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        times = self._failures[key]
        cutoff = self.clock() - self.window_s
        while times and times[0] < cutoff:
            times.popleft()
        return times

    def check(self, *, username: str, ip: str) -> None:
        """Raise :class:`LoginThrottled` when either limit is reached."""
        for key, limit in ((f"u:{username.lower()}|{ip}", self.max_failures), (f"ip:{ip}", self.max_failures_per_ip)):
            times = self._recent(key)
            if len(times) >= limit:
                retry_after = max(1, int(times[0] + self.window_s - self.clock()) + 1)
                raise LoginThrottled("too many failed sign-ins; try again later", retry_after=retry_after)

    def record_failure(self, *, username: str, ip: str) -> None:
        now = self.clock()
        self._failures[f"u:{username.lower()}|{ip}"].append(now)
        self._failures[f"ip:{ip}"].append(now)

    def record_success(self, *, username: str, ip: str) -> None:
        self._failures.pop(f"u:{username.lower()}|{ip}", None)
