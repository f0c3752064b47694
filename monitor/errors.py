"""The error vocabulary of mkb-monitor: every failure the monitor knows by name.

Each class carries a dotted ``code`` that is what gets recorded (on a run, a source, a
quarantined item, a delivery), so a failure has the same name in the database, the logs and
the tests. This module imports nothing of the project: it is the one module every floor may import
(``scrapers`` and ``models`` included) without the import running back up.

Every message is passed through :func:`redact` when the error is built, so a password in a URL's
userinfo or a token in its query string never reaches a log, a stored error text or a served
column, whichever floor raised the error.

    MonitorError
    ├── ConfigError                       config.invalid: a bad or unknown key, a bad value
    ├── AlreadyRunning                    run.locked: another run holds the lock (exit code 75)
    ├── Interrupted                       run.interrupted: the process ended before its run did
    ├── FetchError                        fetch.*: the network or the server failed us
    │   ├── ConnectFailed                 fetch.connect: DNS, refused, unreachable
    │   ├── TLSFailed                     fetch.tls
    │   ├── Timeout                       fetch.timeout
    │   │   ├── ReadTimeout               fetch.timeout.read: no byte within the read timeout
    │   │   └── DeadlineExceeded          fetch.deadline: the whole exchange took too long
    │   ├── DataLoss                      fetch.data_loss: reset or truncated mid-body
    │   ├── HTTPStatus                    fetch.status: a status we do not accept (4xx, 5xx)
    │   │   └── RateLimited               fetch.rate_limited: 429/503 with Retry-After
    │   ├── TooLarge                      fetch.too_large: raw body over the cap
    │   ├── DecompressionLimit            fetch.decompression_limit: decoded body over the cap
    │   ├── RedirectLoop                  fetch.redirect_loop: too many redirects
    │   ├── RedirectForbidden             fetch.redirect_forbidden: another scheme or host
    │   ├── AddressRefused                fetch.address_refused: a loopback, private, link-local,
    │   │                                 metadata or other non-public address the config does not allow
    │   ├── RobotsDisallowed              fetch.robots: robots.txt says no
    │   ├── Deferred                      fetch.deferred: try this source again next run
    │   └── NoRecording                   fetch.no_recording: replay has no answer for a request
    ├── ParseError                        parse.*: the bytes arrived but are not what we expect
    │   ├── NotAFeed                      parse.not_a_feed: an HTML error page, say, with 200
    │   ├── UnsafeXML                     xml.forbidden: DTD, entities, XInclude
    │   ├── SourceChanged                 parse.source_changed: the response shape moved
    │   ├── APIError                      api.error: the API says it failed (SRU diagnostic, <Error>)
    │   ├── NotAnArticle                  parse.not_article: an index page, a cookie wall
    │   ├── FileEncrypted                 file.encrypted: a PDF that needs a password to read
    │   └── FileCorrupt                   file.corrupt: a truncated or broken PDF or DOCX
    ├── ExtractionError                   nlp.*: the language pipeline failed on a text
    ├── StorageError                      storage.*
    │   ├── StorageBusy                   storage.busy: the write lock was held past busy_timeout
    │   ├── StorageFull                   storage.full: the disk is full (SQLITE_FULL, I/O error)
    │   └── NotACorpus                    storage.not_ours: not SQLite, another program's, or newer
    ├── QueryError                        query.invalid: a search the user typed cannot be run
    └── DeliveryError                     delivery.*: a channel failed to deliver an alert
        ├── DeliveryTemporary             delivery.temporary: try again later
        └── DeliveryPermanent             delivery.permanent: do not retry (550, 410, refused URL)

Anything else a parser or converter raises is a bug, but it must not stop a run: ``code_of``
names it ``unexpected.<ExceptionType>`` (``parse.encoding`` for undecodable text), so it is
recorded on the item or the source like any other failure.
"""

from __future__ import annotations

import re

# A query parameter whose value is a credential: the name is one of these words, alone or as the
# last part of a name (api_key, access_token, X-Amz-Signature), never as a mere substring
# (keyword, skiptoken: the Tweede Kamer's paging token is no secret).
_SECRET_PARAM = re.compile(r"(?:^|[_.-])(?:token|key|apikey|secret|password|passwd|pwd|pass|signature|sig|auth|"
                           r"authorization|credentials?|session|sessionid|sid|jwt|code)$", re.IGNORECASE)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>`]+")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@]*@")
_PARAM = re.compile(r"([?&;])([^=&;#]*)=([^&;#]*)")
REDACTED = "***"


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``: the userinfo
    (``https://user:pass@host`` -> ``https://***@host``) and the values of query parameters named
    like a secret (token, key, api_key, secret, password, signature, access_token, ...)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: _redact_url(m.group(0)), text)


def _redact_url(url: str) -> str:
    url = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", url)
    if "?" not in url:
        return url
    base, _, query = url.partition("?")
    query = _PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}" if _SECRET_PARAM.search(m.group(2))
                       else m.group(0), "?" + query)
    return base + query


class MonitorError(Exception):
    """Base of every error mkb-monitor raises on purpose."""

    code = "monitor.error"

    def __init__(self, message: str = "", **details: object) -> None:
        message = redact(message)
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.details = {k: redact(v) if isinstance(v, str) else v for k, v in details.items()}

    def __str__(self) -> str:
        return self.message


def code_of(error: BaseException) -> str:
    """The code under which a failure is recorded, for any exception."""
    if isinstance(error, MonitorError):
        return error.code
    if isinstance(error, UnicodeError):
        return "parse.encoding"
    return f"unexpected.{type(error).__name__}"


class ConfigError(MonitorError):
    """The configuration is invalid."""

    code = "config.invalid"


class AlreadyRunning(MonitorError):
    """Another run holds the lock."""

    code = "run.locked"
    exit_code = 75  # EX_TEMPFAIL: cron and systemd read it as "try again later"


class Interrupted(MonitorError):
    """The run was interrupted (Ctrl-C, a signal, or the process died) before it finished."""

    code = "run.interrupted"


# --- fetching -------------------------------------------------------------------------------


class FetchError(MonitorError):
    """Fetching a URL failed."""

    code = "fetch.error"
    retryable = False

    def __init__(self, message: str = "", *, url: str | None = None, **details: object) -> None:
        super().__init__(message, **details)
        self.url = redact(url) if url else url


class ConnectFailed(FetchError):
    """Could not connect to the host."""

    code = "fetch.connect"
    retryable = True


class TLSFailed(FetchError):
    """The TLS handshake failed (verification is never switched off)."""

    code = "fetch.tls"


class Timeout(FetchError):
    """The exchange timed out."""

    code = "fetch.timeout"
    retryable = True


class ReadTimeout(Timeout):
    """No byte arrived within the read timeout."""

    code = "fetch.timeout.read"


class DeadlineExceeded(Timeout):
    """The whole exchange took longer than its total deadline."""

    code = "fetch.deadline"


class DataLoss(FetchError):
    """The connection broke mid-body; the partial body was discarded."""

    code = "fetch.data_loss"
    retryable = True


class HTTPStatus(FetchError):
    """The server answered with a status we do not accept."""

    code = "fetch.status"

    def __init__(self, message: str = "", *, url: str | None = None, status: int = 0, **details: object) -> None:
        super().__init__(message, url=url, **details)
        self.status = status
        self.retryable = status in (408, 425, 429, 500, 502, 503, 504, 522, 524)


class RateLimited(HTTPStatus):
    """The server asked us to slow down (429, or 503 with Retry-After)."""

    code = "fetch.rate_limited"

    def __init__(self, message: str = "", *, url: str | None = None, status: int = 429,
                 retry_after: float | None = None, **details: object) -> None:
        super().__init__(message, url=url, status=status, **details)
        self.retry_after = retry_after


class TooLarge(FetchError):
    """The body is larger than the raw size cap."""

    code = "fetch.too_large"


class DecompressionLimit(FetchError):
    """The decoded body is larger than the decompressed size cap."""

    code = "fetch.decompression_limit"


class RedirectLoop(FetchError):
    """Too many redirects."""

    code = "fetch.redirect_loop"


class RedirectForbidden(FetchError):
    """A redirect to a scheme or host the source does not allow."""

    code = "fetch.redirect_forbidden"


class AddressRefused(FetchError):
    """The host is (or resolves to) an address outside the public internet that the config does
    not allow; nothing was sent to it."""

    code = "fetch.address_refused"


class RobotsDisallowed(FetchError):
    """robots.txt does not allow this URL for our user agent."""

    code = "fetch.robots"


class Deferred(FetchError):
    """The source should be tried again on the next run (a long Retry-After, robots.txt unreachable)."""

    code = "fetch.deferred"


class NoRecording(FetchError):
    """Replay mode has no recorded answer for this request."""

    code = "fetch.no_recording"


# --- parsing --------------------------------------------------------------------------------


class ParseError(MonitorError):
    """A response could not be understood."""

    code = "parse.error"


class NotAFeed(ParseError):
    """The response is not the feed or API document that was expected."""

    code = "parse.not_a_feed"


class UnsafeXML(ParseError):
    """The XML uses a DTD, entities or XInclude, which are refused."""

    code = "xml.forbidden"


class SourceChanged(ParseError):
    """The response no longer has the shape this source expects."""

    code = "parse.source_changed"


class APIError(ParseError):
    """The API reported an error in its own body."""

    code = "api.error"


class NotAnArticle(ParseError):
    """The page is not an article (an index, a cookie wall, no main text)."""

    code = "parse.not_article"


class FileEncrypted(ParseError):
    """The file (a PDF) is encrypted and cannot be read without a password."""

    code = "file.encrypted"


class FileCorrupt(ParseError):
    """The file is truncated or broken: no text can be read from it."""

    code = "file.corrupt"


# --- extraction, storage, search, delivery --------------------------------------------------


class ExtractionError(MonitorError):
    """The language pipeline failed on a text."""

    code = "nlp.error"


class StorageError(MonitorError):
    """The corpus could not be written."""

    code = "storage.error"


class StorageBusy(StorageError):
    """Another writer held the database past the busy timeout."""

    code = "storage.busy"


class StorageFull(StorageError):
    """The disk is full or refused the write."""

    code = "storage.full"


class NotACorpus(StorageError):
    """The file is not a database of this mkb-monitor: not SQLite, another program's, or newer."""

    code = "storage.not_ours"


class QueryError(MonitorError):
    """A search query cannot be run."""

    code = "query.invalid"


class DeliveryError(MonitorError):
    """A channel failed to deliver an alert."""

    code = "delivery.error"


class DeliveryTemporary(DeliveryError):
    """Delivery failed for now; it will be retried on the schedule."""

    code = "delivery.temporary"


class DeliveryPermanent(DeliveryError):
    """Delivery failed for good; it will not be retried."""

    code = "delivery.permanent"
