"""``[cluster] address`` values: ``local:N`` (a LocalCluster of N worker processes for the run) or
``tcp://host:port`` (an existing Dask scheduler)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LOCAL = re.compile(r"^local:(\d+)$")
_TCP = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})$")
MAX_LOCAL_WORKERS = 64


@dataclass(frozen=True)
class ClusterAddress:
    kind: str
    """``local`` or ``remote``."""
    workers: int = 0
    """``local``: how many worker processes."""
    url: str = ""
    """``remote``: the scheduler's address as Dask writes it."""
    host: str = ""
    port: int = 0


def parse_address(text: str) -> ClusterAddress:
    """Parse an address; ValueError says what was expected."""
    t = text.strip()
    m = _LOCAL.match(t)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= MAX_LOCAL_WORKERS:
            raise ValueError(f"local:N needs 1 <= N <= {MAX_LOCAL_WORKERS}, got {t!r}")
        return ClusterAddress(kind="local", workers=n)
    m = _TCP.match(t)
    if m:
        port = int(m.group(3))
        if not 1 <= port <= 65535:
            raise ValueError(f"port out of range in {t!r}")
        host = m.group(2).strip("[]")
        return ClusterAddress(kind="remote", url=t, host=host, port=port)
    raise ValueError(f"expected local:N (N worker processes started for the run) or tcp://host:port "
                     f"(an existing Dask scheduler), got {t!r}")
