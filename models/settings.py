"""All configuration in one typed object, read from the environment (prefix GOVCAL_).

It sits at the bottom of the import graph (models/, notifications/, flows/ and the
command line all read it) and is validated when it loads: a value nobody can use (an
unknown transport, `GOVCAL_SMTP_SECURITY=tls`, a port of 0, a `mysql://` database) is
refused with one line naming the variable and what it may be, instead of being silently
read as something else. Words are case-insensitive (`STARTTLS` is `starttls`), and so
are the variables' names. A blank optional value is the same as an unset one.

pydantic-settings reads the environment (prefix, case, init overrides); each field's
own reader below says what a value may be, and `load_settings` turns pydantic's errors
back into govcal's one line per variable.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from govcal.rules.errors import GovcalError

PREFIX = "GOVCAL_"

Transport = Literal["outbox", "smtp"]
Security = Literal["starttls", "ssl", "none"]

# Drivers govcal ships; every other scheme is refused at start, not at first query.
_DATABASE_SCHEMES = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
_HINTS = {
    "transport": "outbox, smtp",
    "smtp_security": "starttls (port 587), ssl (implicit TLS, port 465), none",
}
# Values that end up in a mail header, an SMTP command or a URL: a line break there would
# let a setting write its own headers, so every control character is refused at start.
_HEADER_BOUND = (
    "mail_from",
    "mail_from_name",
    "smtp_host",
    "smtp_username",
    "smtp_password_block",
    "default_partnership",
    "actor",
    "ui_url",
    "feeds_url",
    "public_url",
    "web_secret_block",
    "evidence_store_url",
    "imap_host",
    "imap_username",
    "imap_password_block",
    "imap_folder",
    "imap_processed_folder",
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# an RFC 2047 encoded word (=?utf-8?b?...?=): a mail reader decodes it into any text, a
# line break included (rules.text refuses the same in typed text; this module imports none)
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[^?\s]*\?.*?\?=", re.S)
# local@domain.tld, no spaces or brackets: what an SMTP envelope sender can be
_EMAIL = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:.]+")
# months a sync reaches back and forward: three years each way is more than any rule
# needs, and 300 made 4,452 rows up to 2051 (and a larger number overflowed the calendar)
HORIZON_MOST = 36
_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


class SettingsError(GovcalError, ValueError):
    """A setting nobody can use. Each line names the variable and what it may be."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("; ".join(lines))


class Settings(BaseSettings):
    """The validated settings; built by load_settings (or get_settings, once)."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        case_sensitive=False,
        extra="ignore",
        hide_input_in_errors=True,  # a refused password never reaches a log
        validate_default=False,  # the defaults are what the readers would give
    )

    # ./data of the working directory, as README says (installed, the package's own folder
    # is site-packages); made absolute once, so a child process elsewhere finds the same
    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "data")
    database_url: str | None = None  # default: a SQLite file in data_dir
    rules_path: Path | None = None  # a rule file or folder; default: the shipped partnerships
    default_partnership: str = "wfscp"
    actor: str | None = None  # who the CLI records as acting; default: the OS user
    sync_horizon_months: int = 18  # 1 to HORIZON_MOST
    db_lock_timeout: float = 30.0  # seconds to wait for another writer
    # notifications
    transport: Transport = "outbox"  # outbox (files, the embedded default) or smtp
    outbox_dir: Path | None = None  # default: data_dir/outbox
    feeds_dir: Path | None = None  # default: data_dir/feeds
    mail_from: str = "govcal@example.org"
    mail_from_name: str | None = None  # default: each partnership's own name
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_security: Security = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # a file only the worker's user can read (any Prefect UI user can read a Secret block)
    smtp_password_file: Path | None = None
    smtp_password_block: str | None = None  # name of a Prefect Secret block, if not in env
    # the one way to log in over a connection without TLS: a name that says what it is
    smtp_allow_plaintext_auth: bool = False
    smtp_ca_file: Path | None = None  # a private relay's CA certificate, besides the system's
    smtp_timeout: float = 30.0  # seconds to wait for each SMTP answer
    smtp_data_timeout: float = 600.0  # seconds to wait for the answer to the end of DATA
    delivery_time_budget: float = 1200.0  # seconds one run may spend sending
    # seconds a run's claim on its messages lasts without renewal (it renews every third)
    claim_lease: float = 900.0
    invite_window_days: int = 60  # 0 to 366
    ui_url: str | None = None  # the Prefect UI as people reach it: emails link its forms
    feeds_url: str | None = None  # where data/feeds is published: digests carry feed links
    # evidence files may only be named from this folder (default: data_dir/evidence-inbox)
    evidence_folder: Path | None = None
    # where evidence copies are kept: an fsspec URL every worker reaches (s3://bucket/evidence,
    # or a folder all machines mount); default: the folder data_dir/evidence on this machine
    evidence_store_url: str | None = None
    # the web app (govcal web): links in messages are built from its public address
    public_url: str | None = None  # https://govcal.example.org, as people reach the app
    public_url_allow_http_loopback: bool = False  # http://127.0.0.1:PORT, for a local try
    web_secret: SecretStr | None = None  # signs action links; or the block, or generated
    web_secret_block: str | None = None  # a Prefect Secret block holding it
    link_days: int = 30  # how long an action link in an email stays good
    # the mailbox read back (govcal mailbox): replies, bounces, auto-replies. IMAP over
    # TLS (implicit, port 993); plain IMAP only to a loopback host, and only when allowed
    imap_host: str | None = None  # unset: there is no mailbox to read
    imap_port: int = 993
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_password_block: str | None = None  # name of a Prefect Secret block, if not in env
    imap_folder: str = "INBOX"
    imap_processed_folder: str = "govcal/processed"  # what was read is moved here
    imap_allow_plaintext_on_loopback: bool = False
    imap_ca_file: Path | None = None  # a private server's CA certificate, besides the system's
    imap_timeout: float = 60.0  # seconds to wait for each IMAP answer
    # DKIM: every outgoing message signed for the sender's domain (notifications/dkim.py)
    dkim_key_file: Path | None = None  # the private key, PEM
    dkim_selector: str | None = None  # the DNS name's first label: SELECTOR._domainkey.DOMAIN

    @field_validator("*", mode="before")
    @classmethod
    def _read(cls, value: Any, info: ValidationInfo) -> Any:
        """Every value through its field's reader (below): one refusal, one line."""
        return _read_one(str(info.field_name), value)

    def rule_paths(self, override: Path | None = None) -> list[Path] | None:
        """Where the rules are: the given file or folder, else GOVCAL_RULES_PATH, else
        None (the shipped partnerships), as rules.loader.load_partnerships takes it."""
        chosen = override or self.rules_path
        return [chosen] if chosen else None

    @property
    def effective_outbox_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def effective_feeds_dir(self) -> Path:
        return self.feeds_dir or self.data_dir / "feeds"

    @property
    def effective_evidence_folder(self) -> Path:
        return self.evidence_folder or self.data_dir / "evidence-inbox"

    @property
    def evidence_store_dir(self) -> Path:
        """govcal's own read-only copies of evidence files, by content."""
        return self.data_dir / "evidence"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'govcal.db'}"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


class _Refused(ValueError):
    """One field's value is unusable; the message is the rest of its line. `shown` is the
    value as read (a word lower-cased), when that differs from what was given."""

    def __init__(self, message: str, shown: str | None = None):
        super().__init__(message)
        self.shown = shown


# Reading one value: each takes the raw value (a string from the environment, or a value
# given to load_settings) and returns the typed one or raises _Refused.


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Refused(": input should be a valid string")
    return value


def _integer(low: int, high: int, out_of_range: str | None = None) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        number = value
        if isinstance(value, str):
            try:
                number = int(value)
            except ValueError:
                try:
                    as_float = float(value)
                except ValueError:
                    as_float = math.nan
                if not as_float.is_integer():
                    raise _Refused(
                        out_of_range
                        or ": input should be a valid integer, unable to parse string as an integer"
                    ) from None
                number = int(as_float)
        if isinstance(number, bool) or not isinstance(number, int):
            raise _Refused(out_of_range or ": input should be a valid integer")
        if number < low:
            raise _Refused(out_of_range or f": input should be greater than or equal to {low}")
        if number > high:
            raise _Refused(out_of_range or f": input should be less than or equal to {high}")
        return number

    return read


def _seconds(most: float) -> Callable[[Any], float]:
    """A duration in seconds, above 0 and at most `most`: a larger one (1e308) would pass
    a plain number check and then overflow the clock arithmetic of a later run."""

    def read(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _Refused(": input should be a valid number") from None
        if isinstance(value, bool) or not math.isfinite(number):
            raise _Refused(": input should be a finite number")
        if number <= 0:
            raise _Refused(": input should be greater than 0")
        if number > most:
            raise _Refused(f": input should be at most {most:g} seconds")
        return number

    return read


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise _Refused(": input should be a valid boolean, unable to interpret input")


def _word(name: str, allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        word = _text(value).strip().lower()
        if word not in allowed:
            raise _Refused(f" is not one of: {_HINTS[name]}", shown=word)
        return word

    return read


def _path(value: Any) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise _Refused(": input is not a valid path")
    return Path(value)


def _folder(value: Any) -> Path:
    path = _path(value)
    if path.exists() and not path.is_dir():
        raise _Refused(" is a file, not a folder; name a folder (it may not exist yet)")
    return path


def _readable_file(value: Any) -> Path:
    path = _path(value)
    if not (path.is_file() and os.access(path, os.R_OK)):
        raise _Refused(
            " is not a readable file; name the server's CA certificate (PEM) or unset it"
        )
    return path


def _secret_file(value: Any) -> Path:
    path = _path(value)
    if not (path.is_file() and os.access(path, os.R_OK)):
        raise _Refused(" is not a readable file; name the file holding the SMTP password")
    return path


def _private_key_file(value: Any) -> Path:
    path = _path(value)
    if not (path.is_file() and os.access(path, os.R_OK)):
        raise _Refused(" is not a readable file; name the DKIM private key (PEM) or unset it")
    return path


def _selector(value: Any) -> str:
    """A DNS label: what DKIM's DNS record is named by (SELECTOR._domainkey.DOMAIN)."""
    selector = _text(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", selector):
        raise _Refused(" is not a DNS label; use letters, digits and hyphens, e.g. govcal2026")
    return selector


def _address(value: Any) -> str:
    address = _text(value).strip()
    if not _EMAIL.fullmatch(address):
        raise _Refused(" is not an email address; write it as name@example.org")
    return address


def _database_url(value: Any) -> str:
    scheme, sep, rest = _text(value).strip().partition("://")
    canonical = _DATABASE_SCHEMES.get(scheme.lower()) if sep else None
    if canonical is None:
        raise _Refused(
            " has an unknown scheme; use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB "
            "(postgresql:// is read as postgresql+psycopg)"
        )
    try:  # a URL SQLAlchemy could not read: refused here, without echoing it (a password)
        from urllib.parse import urlsplit

        _ = urlsplit(f"{canonical}://{rest}").port
    except ValueError:
        raise _Refused(
            " cannot be read as a URL (check the brackets around an IPv6 host and the "
            "port); write it as postgresql+psycopg://USER@HOST:PORT/DB"
        ) from None
    return f"{canonical}://{rest}"


def _host(value: Any) -> str:
    """A relay's host name or address: something a connection can be opened to."""
    host = _text(value).strip()
    if not host or any(c.isspace() for c in host):
        raise _Refused(" is not a host name; write the relay's name, e.g. smtp.example.org")
    return host


def _secret(value: Any) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(_text(value))


def _read_one(name: str, raw: Any) -> Any:
    """One field's value as read, or _Refused: blank optional values are unset, and a
    value bound for a header refuses control characters and encoded words first."""
    if name in _OPTIONAL and (raw is None or (isinstance(raw, str) and not raw.strip())):
        return None
    if name in _HEADER_BOUND and isinstance(raw, str) and _CONTROL.search(raw):
        raise _Refused("control character")
    if name in _HEADER_BOUND and isinstance(raw, str) and _ENCODED_WORD.search(raw):
        raise _Refused("encoded word")
    return _READERS[name](raw)


_READERS: dict[str, Callable[[Any], Any]] = {
    "data_dir": _folder,
    "database_url": _database_url,
    "rules_path": _path,
    "default_partnership": _text,
    "actor": _text,
    "sync_horizon_months": _integer(1, HORIZON_MOST),
    "db_lock_timeout": _seconds(3600),
    "transport": _word("transport", ("outbox", "smtp")),
    "outbox_dir": _folder,
    "feeds_dir": _folder,
    "mail_from": _address,
    "mail_from_name": _text,
    "smtp_host": _host,
    "smtp_port": _integer(1, 65535, " is not a port number (1 to 65535)"),
    "smtp_security": _word("smtp_security", ("starttls", "ssl", "none")),
    "smtp_username": _text,
    "smtp_password": _secret,
    "smtp_password_file": _secret_file,
    "smtp_password_block": _text,
    "smtp_allow_plaintext_auth": _boolean,
    "smtp_ca_file": _readable_file,
    "smtp_timeout": _seconds(3600),
    "smtp_data_timeout": _seconds(3600),
    "delivery_time_budget": _seconds(86400),
    "claim_lease": _seconds(86400),
    "invite_window_days": _integer(0, 366),
    "ui_url": _text,
    "feeds_url": _text,
    "evidence_folder": _folder,
    "evidence_store_url": _text,
    "public_url": _text,
    "public_url_allow_http_loopback": _boolean,
    "web_secret": _secret,
    "web_secret_block": _text,
    "link_days": _integer(1, 365),
    "imap_host": _host,
    "imap_port": _integer(1, 65535, " is not a port number (1 to 65535)"),
    "imap_username": _text,
    "imap_password": _secret,
    "imap_password_block": _text,
    "imap_folder": _text,
    "imap_processed_folder": _text,
    "imap_allow_plaintext_on_loopback": _boolean,
    "imap_ca_file": _readable_file,
    "imap_timeout": _seconds(3600),
    "dkim_key_file": _private_key_file,
    "dkim_selector": _selector,
}
# these may be left blank: blank is the same as unset (the default)
_OPTIONAL = {
    "database_url",
    "rules_path",
    "actor",
    "mail_from_name",
    "outbox_dir",
    "feeds_dir",
    "smtp_username",
    "smtp_password_file",
    "smtp_password_block",
    "smtp_ca_file",
    "ui_url",
    "feeds_url",
    "evidence_folder",
    "evidence_store_url",
    "public_url",
    "web_secret",
    "web_secret_block",
    "imap_host",
    "imap_username",
    "imap_password_block",
    "imap_ca_file",
    "dkim_key_file",
    "dkim_selector",
}
# never repeated in a message (the value is a secret, or carries one)
_UNSHOWN = {"smtp_password", "database_url", "web_secret", "imap_password"}


def _line(name: str, value: Any, problem: str) -> str:
    """One line per problem: the variable, what it was (unless secret), what it may be."""
    variable = f"{PREFIX}{name.upper()}"
    if problem == "control character":
        return (
            f"{variable} contains a line break or control character; "
            "write it on one line of plain text"
        )
    if problem == "encoded word":
        return (
            f"{variable} contains an encoded word (=?charset?...?=) a mail reader would "
            "decode; write the text itself"
        )
    shown = "" if name in _UNSHOWN else f"='{value}'"
    return f"{variable}{shown}{problem}"


def _check_spellings(environ: Mapping[str, str]) -> None:
    """The variables' names are case-insensitive, so two spellings of one name with
    different values (GOVCAL_TRANSPORT=smtp and govcal_transport=outbox) are refused:
    which one won would depend on their order."""
    prefix = PREFIX.lower()
    found: dict[str, str] = {}
    spelled: dict[str, list[str]] = {}
    for key, value in environ.items():
        if key.lower().startswith(prefix):
            name = key.lower()[len(prefix) :]
            spelled.setdefault(name, []).append(key)
            if name in found and found[name] != value:
                raise SettingsError(
                    [
                        f"{' and '.join(sorted(spelled[name]))} are one setting given twice "
                        "with different values; unset all but one"
                    ]
                )
            found[name] = value


def _lines(exc: ValidationError) -> list[str]:
    """pydantic's errors as govcal's lines, in the order of the fields."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "settings"
        refused = (error.get("ctx") or {}).get("error")
        if isinstance(refused, _Refused):
            raw = error.get("input")
            problems.append(
                _line(name, raw if refused.shown is None else refused.shown, str(refused))
            )
        else:
            problems.append(f"{PREFIX}{name.upper()}: {error['msg']}")
    return problems


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the environment (and any overrides, by field name);
    SettingsError lists every unusable value, in the order of the fields."""
    _check_spellings(os.environ)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_lines(exc)) from None
    if settings.public_url:
        _check_public_url(settings.public_url, settings.public_url_allow_http_loopback)
    if settings.web_secret is not None and len(settings.web_secret.get_secret_value()) < 32:
        raise SettingsError(
            [
                f"{PREFIX}WEB_SECRET is too short to sign links: give at least 32 random "
                "characters (secrets.token_urlsafe(32) makes one)"
            ]
        )
    if bool(settings.dkim_key_file) != bool(settings.dkim_selector):
        raise SettingsError(
            [
                f"{PREFIX}DKIM_KEY_FILE and {PREFIX}DKIM_SELECTOR go together: set both to "
                "sign outgoing mail with DKIM, or neither"
            ]
        )
    clear = settings.transport == "smtp" and settings.smtp_security == "none"
    if clear and settings.smtp_username and not settings.smtp_allow_plaintext_auth:
        raise SettingsError(
            [
                f"{PREFIX}SMTP_SECURITY=none with {PREFIX}SMTP_USERNAME would send the SMTP "
                f"password in clear: use starttls or ssl, or set "
                f"{PREFIX}SMTP_ALLOW_PLAINTEXT_AUTH=true if the link is trusted"
            ]
        )
    return settings


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _check_public_url(url: str, allow_http_loopback: bool) -> None:
    """Links carry tokens: they travel over https only, but for a trial on this machine
    when the setting named for it says so."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        host, parts = "", None
    variable = f"{PREFIX}PUBLIC_URL='{url}'"
    if parts is None or not host or parts.query or parts.fragment:
        raise SettingsError(
            [f"{variable} is not an address; write it as https://govcal.example.org"]
        )
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and host in _LOOPBACK and allow_http_loopback:
        return
    if parts.scheme == "http" and host in _LOOPBACK:
        raise SettingsError(
            [
                f"{variable} is not https: links carry tokens; set "
                f"{PREFIX}PUBLIC_URL_ALLOW_HTTP_LOOPBACK=true to try the app on this machine"
            ]
        )
    raise SettingsError(
        [
            f"{variable} must be https (http only on 127.0.0.1 or localhost, with "
            f"{PREFIX}PUBLIC_URL_ALLOW_HTTP_LOOPBACK=true): links carry tokens"
        ]
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def redact_url(url: str) -> str:
    """A database URL safe to print: the password is replaced by ***, whether written
    as user:password@ or as a query parameter (?password=, libpq's form)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        query = {
            key: ("***" if key.lower() in _SECRET_PARAMETERS else value)
            for key, value in parsed.query.items()
        }
        shown = parsed.set(query=query).render_as_string(hide_password=True)
        return shown.replace("%2A%2A%2A", "***")
    except Exception:
        return "(unparseable database URL)"


_SECRET_PARAMETERS = frozenset({"password", "pass", "passwd", "sslpassword", "sslkey"})
