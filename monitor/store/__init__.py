"""Storage: the only package that writes SQL.

``corpus`` is the public corpus file that Datasette serves; ``private`` is the file with alert
state, recipients and secrets that nothing serves (RELIABILITY I8).
"""

from monitor.store.corpus import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Outcome,
    Store,
    content_hash,
    normalise_published,
    web_id,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Outcome", "Store", "content_hash", "normalise_published",
           "web_id"]
