"""End to end over stdio with pytest-lsp: every feature, as VS Code and as Neovim would ask.

One server per client kind (module scope) with the real committed API model and the real
``SpellRunner``; LSP spec violations are errors.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-e2e-"))
RUN_METHODS = ("llmspell/runStarted", "llmspell/output", "llmspell/event", "llmspell/hookResult",
               "llmspell/runFinished")


def client_factory() -> LanguageClient:
    client = make_test_lsp_client()
    client.run_messages: list[tuple[str, Any]] = []  # type: ignore[misc]
    client.finished: dict[str, asyncio.Event] = {}  # type: ignore[misc]

    def handler(method: str):
        def on(params: Any) -> None:
            client.run_messages.append((method, params))
            if method == "llmspell/runFinished":
                client.finished.setdefault(params.runId, asyncio.Event()).set()
        return on

    for m in RUN_METHODS:
        client.feature(m)(handler(m))

    @client.feature(lsp.WORKSPACE_CODE_LENS_REFRESH)
    def on_refresh(params: Any) -> None:  # VS Code advertises refreshSupport; the real one re-asks
        client.lens_refreshes = getattr(client, "lens_refreshes", 0) + 1

    return client


@pytest_lsp.fixture(
    scope="module",
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"], client_factory=client_factory),
)
async def client(request: Any, lsp_client: LanguageClient):
    lsp_client.init_result = await lsp_client.initialize_session(lsp.InitializeParams(  # type: ignore[attr-defined]
        capabilities=client_capabilities(request.param), root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    yield
    await lsp_client.shutdown_session()


_counter = iter(range(1_000_000))


def open_doc(client: LanguageClient, text: str, ext: str = "lua", write: bool = False) -> str:
    path = WORK / f"spell{next(_counter)}.{ext}"
    if write:
        path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua" if ext == "lua" else "javascript", version=1, text=text)))
    return uri


def where(text: str) -> tuple[str, lsp.Position]:
    off = text.index("|")
    before = text[:off]
    return text.replace("|", "", 1), lsp.Position(line=before.count("\n"),
                                                  character=len(before) - before.rfind("\n") - 1)


def pulls(client: LanguageClient) -> bool:
    """The client supports pull diagnostics (Neovim 0.11): the server pushes nothing, the client asks."""
    caps = client.capabilities
    return caps is not None and caps.text_document is not None and caps.text_document.diagnostic is not None


async def pull_into(client: LanguageClient, uri: str) -> None:
    """Pull the document's diagnostics into ``client.diagnostics`` (what an editor shows)."""
    rep = await client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    if isinstance(rep, lsp.RelatedFullDocumentDiagnosticReport):
        client.diagnostics[uri] = rep.items


async def wait_diags(client: LanguageClient, uri: str, version: int, timeout: float = 10) -> list[lsp.Diagnostic]:
    """The diagnostics of ``version`` of ``uri``: pushed ones, or pulled when the client pulls."""
    if pulls(client):
        await asyncio.wait_for(pull_into(client, uri), timeout)
        return list(client.diagnostics.get(uri, ()))

    async def poll() -> list[lsp.Diagnostic]:
        while True:
            if uri in client.diagnostics and client.diagnostic_versions.get(uri) == version:  # type: ignore[attr-defined]
                return list(client.diagnostics[uri])
            await asyncio.sleep(0.01)
    return await asyncio.wait_for(poll(), timeout)


@pytest.fixture(autouse=True)
def track_versions(client: LanguageClient) -> None:
    """Record the version of each publishDiagnostics (the default client keeps only the list)."""
    if getattr(client, "diagnostic_versions", None) is not None:
        return
    client.diagnostic_versions = {}  # type: ignore[attr-defined]
    client.pushed = {}  # type: ignore[attr-defined]  # what was pushed, apart from what a pull returned
    orig = client.protocol.fm.features.get(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    def on_publish(params: lsp.PublishDiagnosticsParams) -> None:
        if orig is not None:
            orig(params)
        client.diagnostics[params.uri] = params.diagnostics
        client.diagnostic_versions[params.uri] = params.version  # type: ignore[attr-defined]
        client.pushed[params.uri] = list(params.diagnostics)  # type: ignore[attr-defined]

    client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = on_publish


async def complete(client: LanguageClient, text: str, ext: str = "lua") -> list[str]:
    text, pos = where(text)
    uri = open_doc(client, text, ext)
    res = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos))
    items = res.items if isinstance(res, lsp.CompletionList) else (res or [])
    return [i.label for i in items]


# ------------------------------------------------------------------------------------------ tests
async def test_completion_lua(client: LanguageClient) -> None:
    assert {"builder", "list", "get"} <= set(await complete(client, "Agent.|"))
    assert {"model", "system_prompt", "build"} <= set(await complete(client, "local b = Agent.builder()\nb:|"))
    assert {"execute"} <= set(await complete(client, "local a = Agent.builder():model('m'):build()\na:|"))
    assert "operation" in await complete(client, 'Tool.execute("file-operations", { |')
    values = await complete(client, 'Tool.execute("file-operations", { operation = "|')
    assert {"read", "write", "exists"} <= set(values)
    assert "calculator" in await complete(client, 'Tool.execute("calc|')
    assert "BeforeAgentExecution" in await complete(client, 'Hook.register("|')


async def test_completion_js(client: LanguageClient) -> None:
    assert "systemPrompt" in await complete(client, "const b = Agent.builder();\nb.|", "js")
    assert "execute" in await complete(client, "const a = await Agent.builder().build();\na.|", "js")
    assert "input" in await complete(client, "await Tool.execute('calculator', { |", "js")


async def test_hover_and_signature(client: LanguageClient) -> None:
    text, pos = where("local b = Agent.buil|der()\nTool.execute('calculator', { input = '1' })\n")
    uri = open_doc(client, text)
    h = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos))
    assert h is not None and "builder" in h.contents.value
    h = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=1, character=16)))
    assert h is not None and "calculator" in h.contents.value and "input" in h.contents.value
    s = await client.text_document_signature_help_async(lsp.SignatureHelpParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=1, character=28)))
    assert s is not None and s.signatures[0].label.startswith("Tool.execute(") and s.active_parameter == 1


async def test_js_hover_signature_diagnostics(client: LanguageClient) -> None:
    text = ("const a = Tool.execute('calculator', {input: '1'});\n"
            "await Tool.execute('calculator', {input: JSON.stringify(1)});\n")
    uri = open_doc(client, text, "js")
    diags = await wait_diags(client, uri, 1)
    assert [d.code for d in diags] == ["missing-await"] and diags[0].severity == lsp.DiagnosticSeverity.Warning
    s = await client.text_document_signature_help_async(lsp.SignatureHelpParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=1, character=56)))
    assert s is not None and "stringify" in s.signatures[0].label


async def test_diagnostics_versions_and_quick_fix(client: LanguageClient) -> None:
    uri = open_doc(client, "local a = Agent.bulder()\n")
    (d,) = await wait_diags(client, uri, 1)
    assert d.code == "unknown-member" and d.source == "llmspell"
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=d.range,
        context=lsp.CodeActionContext(diagnostics=[d])))
    assert actions and actions[0].edit.changes[uri][0].new_text == "builder"
    # a burst of edits: only the last version is published (debounced)
    for v in range(2, 8):
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=v),
            content_changes=[lsp.TextDocumentContentChangePartial(
                range=lsp.Range(start=lsp.Position(line=0, character=16), end=lsp.Position(line=0, character=22)),
                text="builder" if v == 7 else "bulder")]))
    assert await wait_diags(client, uri, 7) == []


async def test_code_lens_symbols(client: LanguageClient) -> None:
    uri = open_doc(client, 'local w = Agent.builder():name("w"):build()\n'
                           'Hook.register("BeforeAgentExecution", function() end)\n')
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert lenses[0].range.start.line == 0 and lenses[0].command.command == "llmspell.runSpell"
    syms = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert [s.name for s in syms] == ["w (w)", "hook BeforeAgentExecution"]


async def run(client: LanguageClient, uri: str) -> str:
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.runSpell", arguments=[uri]))
    run_id = res["runId"] if isinstance(res, dict) else res.runId
    client.finished.setdefault(run_id, asyncio.Event())
    return run_id


def messages(client: LanguageClient, run_id: str) -> list[tuple[str, Any]]:
    return [(m, p) for m, p in client.run_messages if p.runId == run_id]


async def test_run_streams_and_finishes(client: LanguageClient) -> None:
    uri = open_doc(client, 'print("hello from the spell")\nEvent.publish("my.event", { x = 1 })\nreturn 42\n',
                   write=True)
    run_id = await run(client, uri)
    await asyncio.wait_for(client.finished[run_id].wait(), 30)
    got = messages(client, run_id)
    methods = [m for m, _ in got]
    assert methods[0] == "llmspell/runStarted" and methods[-1] == "llmspell/runFinished"
    assert methods.count("llmspell/runFinished") == 1
    outputs = [p.text for m, p in got if m == "llmspell/output"]
    assert "hello from the spell\n" in outputs
    assert any(m == "llmspell/event" and p.event_type == "my.event" for m, p in got)
    fin = got[-1][1]
    assert fin.status == "success" and fin.result == 42 and fin.uri == uri
    # both captured clients support work-done progress: a fresh token per run, begin ... end
    (token,) = [t for t in client.progress_reports if run_id in str(t)]
    kinds = [type(r).__name__ for r in client.progress_reports[token]]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"


async def test_cancel_and_completion_while_running(client: LanguageClient) -> None:
    uri = open_doc(client, "local i = 0\nwhile true do i = i + 1 end\n", write=True)
    run_id = await run(client, uri)
    while not any(m == "llmspell/runStarted" for m, _ in messages(client, run_id)):
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # the spell is spinning on its own thread now
    assert "builder" in await complete(client, "Agent.|")  # the editor stays responsive
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.cancelSpell", arguments=[run_id]))
    assert (res["cancelled"] if isinstance(res, dict) else res.cancelled) is True
    await asyncio.wait_for(client.finished[run_id].wait(), 10)
    assert messages(client, run_id)[-1][1].status == "cancelled", messages(client, run_id)[-1][1].error


async def test_run_failure_becomes_a_diagnostic_until_edit(client: LanguageClient) -> None:
    uri = open_doc(client, 'print("a")\nlocal x = 1\nerror("boom")\n', write=True)
    await wait_diags(client, uri, 1)
    run_id = await run(client, uri)
    await asyncio.wait_for(client.finished[run_id].wait(), 30)

    async def failed() -> lsp.Diagnostic:
        """A pull client that supports refresh pulls it; one that does not (Neovim 0.11) has it
        pushed, alone (its pulled results leave it out, so it is never shown twice)."""
        while True:
            if pulls(client):
                await pull_into(client, uri)
            for d in [*client.diagnostics.get(uri, ()), *client.pushed.get(uri, ())]:  # type: ignore[attr-defined]
                if d.code == "run-failed":
                    return d
            await asyncio.sleep(0.01)

    d = await asyncio.wait_for(failed(), 10)
    assert d.range.start.line == 2 and "boom" in d.message
    if pulls(client):
        pulled = [x.code for x in client.diagnostics.get(uri, ())]
        pushed = [x.code for x in client.pushed.get(uri, ())]  # type: ignore[attr-defined]
        assert pulled.count("run-failed") + pushed.count("run-failed") == 1
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text='print("a")\n')]))
    assert await wait_diags(client, uri, 2) == []
    if pulls(client) and uri in client.pushed:  # type: ignore[attr-defined]
        async def cleared() -> None:
            while client.pushed[uri]:  # type: ignore[attr-defined]
                await asyncio.sleep(0.01)
        await asyncio.wait_for(cleared(), 10)


async def test_errors_are_responses_not_crashes(client: LanguageClient) -> None:
    with pytest.raises(Exception, match="runSpell expects"):
        await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="llmspell.runSpell",
                                                                               arguments=[]))
    h = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri="file:///not/open.lua"),
        position=lsp.Position(line=0, character=0)))
    assert h is None
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.cancelSpell", arguments=["no-such-run"]))
    assert (res["cancelled"] if isinstance(res, dict) else res.cancelled) is False
    assert "builder" in await complete(client, "Agent.|")


async def test_hook_results_stream(client: LanguageClient) -> None:
    uri = open_doc(client, 'Hook.register("BeforeToolExecution", function(ctx) return "continue" end)\n'
                           'local r = Tool.execute("calculator", { input = "1 + 1" })\nprint(r.success)\n', write=True)
    run_id = await run(client, uri)
    await asyncio.wait_for(client.finished[run_id].wait(), 30)
    got = messages(client, run_id)
    hooks = [p for m, p in got if m == "llmspell/hookResult"]
    assert any(h.point == "BeforeToolExecution" and h.result == "continue" for h in hooks), got
    assert got[-1][1].status == "success"


async def test_cancelling_the_progress_cancels_the_run(client: LanguageClient) -> None:
    uri = open_doc(client, "while true do end\n", write=True)
    run_id = await run(client, uri)
    while not [t for t in client.progress_reports if run_id in str(t)]:
        await asyncio.sleep(0.02)
    (token,) = [t for t in client.progress_reports if run_id in str(t)]
    await asyncio.sleep(0.2)
    client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
    await asyncio.wait_for(client.finished[run_id].wait(), 10)
    assert messages(client, run_id)[-1][1].status == "cancelled", messages(client, run_id)[-1][1].error


async def test_cancel_kills_a_run_stuck_in_a_c_call(client: LanguageClient) -> None:
    """One long C call never polls a flag: only the run's process kill stops it. After the cancel the
    server has no run process left burning a core (only its pre-forked zygote remains)."""
    from llmspell.isolation.procs import descendants

    uri = open_doc(client, 'local s = ("a"):rep(1e5):find(".-.-.-.-.-b")\n', write=True)
    run_id = await run(client, uri)
    server_pid = client._server.pid  # type: ignore[attr-defined]
    deadline = asyncio.get_running_loop().time() + 20
    while len(descendants(server_pid)) < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)  # zygote + the run's process
    assert len(descendants(server_pid)) >= 2
    await asyncio.sleep(0.3)
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.cancelSpell", arguments=[run_id]))
    assert (res["cancelled"] if isinstance(res, dict) else res.cancelled) is True
    await asyncio.wait_for(client.finished[run_id].wait(), 10)
    assert messages(client, run_id)[-1][1].status == "cancelled"
    left = descendants(server_pid)
    assert len(left) == 1, left  # the zygote only


async def test_positions_in_the_negotiated_encoding(client: LanguageClient) -> None:
    text = 'local s = "😀é"; local a = Agent.bulder()\n'
    uri = open_doc(client, text)
    (d,) = await wait_diags(client, uri, 1)
    col = text.index("bulder")
    enc = client.init_result.capabilities.position_encoding  # type: ignore[attr-defined]
    extra = {"utf-8": 4, "utf-16": 1}.get(str(getattr(enc, "value", enc) or "utf-16"), 0)  # 😀é: 6 bytes, 3 units
    assert d.range.start.character == col + extra
    h = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=d.range.start))
    assert h is None or "bulder" not in h.contents.value
    res = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=d.range.start))
    labels = [i.label for i in (res.items if isinstance(res, lsp.CompletionList) else res)]
    assert "builder" in labels  # the cursor is right after "Agent." in the client's units


async def test_completion_items_document_themselves(client: LanguageClient) -> None:
    text, pos = where("Agent.|")
    uri = open_doc(client, text)
    res = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos))
    items = {i.label: i for i in (res.items if isinstance(res, lsp.CompletionList) else res)}
    item = items["builder"]
    if item.documentation is None:  # the client resolves lazily
        item = await client.completion_item_resolve_async(item)
    doc = item.documentation.value if hasattr(item.documentation, "value") else item.documentation
    assert "Agent.builder()" in doc


async def test_scoped_local_types(client: LanguageClient) -> None:
    """Annotated parameters, shadowing and multiple assignment, as the editor sees them."""
    lua = "---@param agent AgentInstance\nlocal function ask(agent)\n  return agent:|\nend\n"
    assert "execute" in await complete(client, lua)
    shadow = "local b = Agent.builder()\nlocal function f(b)\n  b:|\nend\n"
    assert "system_prompt" not in await complete(client, shadow)
    assert "build" in await complete(client, "local w, b = Workflow.builder(), Agent.builder()\nb:|")
    js = "const a = await Agent.builder().build();\n{\n  const a = Agent.builder();\n  a.|\n}\n"
    got = await complete(client, js, "js")
    assert "systemPrompt" in got and "execute" not in got
    js_doc = "/** @param {AgentInstance} agent */\nasync function ask(agent) {\n  return agent.|\n}\n"
    assert "execute" in await complete(client, js_doc, "js")


async def test_scoped_diagnostics(client: LanguageClient) -> None:
    """A parameter that shadows an outer builder is not checked as the builder; an annotated one is checked."""
    uri = open_doc(client, 'local agent = Agent.builder()\nlocal function f(agent)\n  agent:execute({ text = "x" })\n'
                           'end\n---@param a AgentInstance\nlocal function g(a)\n  a.execute({ text = "x" })\nend\n')
    diags = await wait_diags(client, uri, 1)
    assert [(d.code, d.range.start.line) for d in diags] == [("call-style", 6)]
