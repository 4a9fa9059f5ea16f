"""The run stream round-trips through JSON (what --json prints and the editor receives)."""

from __future__ import annotations

from llmspell.core.types import Usage
from llmspell.messages import RUN_MESSAGE_ADAPTER, ErrorInfo, Finished, Output, Started


def test_messages_round_trip_through_json() -> None:
    msgs = [
        Started(run_id="r1", seq=0, file="x.lua", language="lua"),
        Output(run_id="r1", seq=1, text="hello\n"),
        Finished(run_id="r1", seq=2, status="error", exit_code=1,
                 error=ErrorInfo(message="boom", file="x.lua", line=3), usage=Usage(total_tokens=5)),
    ]
    for m in msgs:
        back = RUN_MESSAGE_ADAPTER.validate_json(m.model_dump_json())
        assert back == m
    assert RUN_MESSAGE_ADAPTER.validate_python({"type": "output", "run_id": "r", "text": "t"}).stream == "stdout"
