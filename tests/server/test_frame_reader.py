"""FrameReader: frames split anywhere across reads, big bodies gathered in chunks, every message once
and in order; each message handled with the time its last chunk was read (:data:`ARRIVED`)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from llmspell_ls.server import ARRIVED, FrameReader


class Recorder(FrameReader):
    def __init__(self) -> None:  # no protocol: the bodies are recorded
        self.buf = bytearray()
        self.need = -1
        self.body_at = 0
        self.got: list[tuple[Any, float]] = []

    def _handle(self, body: bytes) -> None:
        ARRIVED.set(self.arrived)
        self.got.append((json.loads(body), ARRIVED.get()))


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize("seed", range(6))
def test_frames_split_anywhere_arrive_whole_and_in_order(seed: int) -> None:
    rnd = random.Random(seed)
    msgs = [{"id": i, "text": "x" * rnd.choice([0, 10, 70_000, 1_200_000, 2_500_000])} for i in range(8)]
    data = b"".join(frame(m) for m in msgs)
    r = Recorder()
    i = 0
    while i < len(data):
        n = rnd.choice([1, 7, 4096, 65536, 1 << 20, 3 << 20])
        r.data_received(data[i:i + n])
        i += n
    assert [m for m, _ in r.got] == msgs
    assert r.parts is None and not r.buf
    times = [t for _, t in r.got]
    assert all(t > 0 for t in times) and times == sorted(times)
