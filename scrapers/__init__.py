"""Sources: one module per source kind. None of them touches the database or builds an HTTP client.

``KINDS`` maps the ``kind`` of a ``[sources.NAME]`` config table to its implementation; the
import is lazy so that a command that needs one source does not import them all.
"""

from __future__ import annotations

import importlib
from typing import Any

from monitor.errors import ConfigError

KINDS: dict[str, str] = {
    "jsonl": "scrapers.jsonl:JsonlSource",
    "koop": "scrapers.koop:KoopSource",
    "tk_syncfeed": "scrapers.tweedekamer:SyncFeedSource",
    "feed": "scrapers.feeds:FeedSource",
    "sitemap": "scrapers.sitemaps:SitemapSource",
    "rijksoverheid": "scrapers.rijksoverheid:RijksoverheidSource",
    "html_listing": "scrapers.listing:ListingSource",
}


# Kinds that were called otherwise before: a config may still name them so.
KIND_ALIASES: dict[str, str] = {"koop_sru": "koop"}


def source_class(kind: str) -> Any:
    kind = KIND_ALIASES.get(kind, kind)
    try:
        module_name, _, attr = KINDS[kind].partition(":")
    except KeyError:
        raise ConfigError(f"unknown source kind {kind!r} (known: {', '.join(sorted(KINDS))})") from None
    return getattr(importlib.import_module(module_name), attr)
