"""The embedded offline provider: deterministic answers, tool calls and failures, no network.

It is the default when no real provider is configured, so rs-llmspell spells run unchanged and print
something meaningful. It must never import litellm (the language server and tests rely on that).

Behaviour, in order:

1. a queued failure (``failures=[429, 500]``) is raised, one per call;
2. the first matching :class:`ScriptRule` decides (reply text, tool calls, or a failure);
3. after tool results, the answer quotes what the tools returned;
4. when the request offers tools and the user text names one (or asks to calculate / hash / make a
   uuid / base64 / uppercase ...), the reply is a tool call whose arguments satisfy the tool's schema;
5. otherwise a stable reply that acknowledges the system prompt's role and quotes the user message.
"""

from __future__ import annotations

import ast
import asyncio
import fnmatch
import hashlib
import json
import operator
import re
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

from pydantic import BaseModel

from llmspell.core.errors import ProviderError
from llmspell.core.types import ToolCall, Usage
from llmspell.providers.base import (
    ChatMessage,
    Completion,
    CompletionRequest,
    ProviderCapabilities,
    StreamChunk,
    estimate_tokens,
)

_STATUS_TEXT = {
    408: "request timed out",
    429: "rate limited, retry later",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    400: "bad request",
    401: "authentication failed",
}


def is_retryable_status(status: int | None) -> bool:
    return status is not None and (status in (408, 409, 429) or status >= 500)


def provider_failure(status: int, message: str | None = None, *, provider: str = "scripted") -> ProviderError:
    """The error a scripted failure raises (the same shape the litellm provider maps to)."""
    text = message or _STATUS_TEXT.get(status, "provider failure")
    return ProviderError(
        f"{provider} provider: {text} (status {status})",
        status=status,
        retryable=is_retryable_status(status),
        details={"status": status, "provider": provider},
    )


class ScriptRule(BaseModel):
    """One scripted behaviour, chosen when ``pattern`` matches the last user message.

    ``reply`` may use ``{input}`` (the user text), ``{model}`` and ``{tool_result}`` (the last tool
    result) placeholders. ``tool_calls`` entries are ``{"name": ..., "arguments": {...}}``; omitted
    arguments are filled from the tool's JSON schema. ``fail`` raises a :class:`ProviderError` with
    that status. ``times`` limits how often the rule fires (``fail=429, times=2`` = "fail twice, then
    behave normally").
    """

    pattern: str = ".*"
    reply: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    fail: int | None = None
    message: str | None = None
    times: int | None = None
    when: Literal["user", "tool_result", "any"] = "user"
    """``user``: only when the last message is the user's; ``tool_result``: only after tool results."""
    delay_s: float = 0.0
    model: str | None = None
    """Only for these model ids (a glob such as ``openai/*``); ``None`` = every model."""


# ------------------------------------------------------------------------------------ small helpers

_BINOPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.FloorDiv: operator.floordiv,
}
_EXPR = re.compile(r"[-+(]*\d[\d.\s]*(?:\s*(?:\*\*|[-+*/%^x×])\s*[-+(]*\d[\d.\s)]*)+")


def find_expression(text: str) -> str | None:
    """The longest arithmetic expression in ``text`` (``"what is 15 * (2+3)?"`` -> ``15 * (2+3)``)."""
    best = None
    for m in _EXPR.finditer(text):
        s = m.group(0).strip()
        if best is None or len(s) > len(best):
            best = s
    if best is None:
        return None
    best = best.replace("×", "*").replace("^", "**")
    best = re.sub(r"(?<=\d)\s*x\s*(?=\d)", " * ", best)
    # balance parentheses conservatively
    while best.count(")") > best.count("(") and best.endswith(")"):
        best = best[:-1].rstrip()
    return best


def safe_eval(expr: str) -> float | int | None:
    """Evaluate + - * / % ** over numbers; ``None`` for anything else (no names, no calls)."""

    def ev(n: ast.AST) -> Any:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return n.value
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            v = ev(n.operand)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp) and type(n.op) in _BINOPS:
            left, right = ev(n.left), ev(n.right)
            if isinstance(n.op, ast.Pow) and abs(right) > 64:
                raise ValueError("exponent too large")
            return _BINOPS[type(n.op)](left, right)
        raise ValueError("unsupported expression")

    try:
        v = ev(ast.parse(expr, mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, TypeError, OverflowError):
        return None
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v  # type: ignore[no-any-return]


def _shorten(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


_ROLE = re.compile(r"\byou are (?:an? |the )?([^.;:\n!?]{2,80})", re.I)


def role_of(system_prompt: str | None) -> str | None:
    """``"You are a helpful research assistant. ..."`` -> ``"a helpful research assistant"``; ``None``
    when the prompt does not state a role (it is then quoted as an instruction instead)."""
    if not system_prompt:
        return None
    m = _ROLE.search(system_prompt)
    if m:
        head = system_prompt[m.start(): m.end()]
        art = re.match(r"you are (an? |the )?", head, re.I)
        article = (art.group(1) or "").lower() if art else ""
        core = m.group(1).strip().split(",")[0].strip()
        return _shorten(f"{article}{core}", 80)
    return None


# Keywords that make the offline provider reach for a builtin tool (only if the request offers it).
_TOOL_HINTS: list[tuple[str, re.Pattern[str]]] = [
    ("hash-calculator", re.compile(r"\b(hash|sha-?256|sha-?512|sha-?1|md5|checksum|digest)\b", re.I)),
    ("uuid-generator", re.compile(r"\b(uuid|guid|unique id(entifier)?)\b", re.I)),
    ("base64-encoder", re.compile(r"\bbase-?64\b", re.I)),
    ("datetime-handler", re.compile(r"\b(date|time|today|timezone|what day)\b", re.I)),
    ("text-manipulator", re.compile(r"\b(uppercase|lowercase|upper case|lower case|reverse|snake_case|camel_case)\b",
                                    re.I)),
    ("calculator", re.compile(r"\b(calculate|compute|evaluate|math|arithmetic|sum of|product of)\b", re.I)),
]
_DEFAULT_OPERATION = {
    "hash-calculator": "hash",
    "uuid-generator": "generate",
    "base64-encoder": "encode",
    "datetime-handler": "now",
    "calculator": "evaluate",
    "text-manipulator": "uppercase",
}
_TEXT_PARAMS = ("input", "text", "query", "expression", "content", "prompt", "message", "data", "task")
_PLAN = re.compile(r"You supervise these workers: ([^.\n]+)\..*?\nTask: (.*)", re.S)
_SYNTH = re.compile(r"Synthesise one answer to the task from your workers' results\.\nTask: (.*?)\nResults:\n(.*)",
                    re.S)
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'|`([^`]+)`|“([^”]+)”")


def _quoted(text: str) -> str | None:
    m = _QUOTED.search(text)
    if not m:
        return None
    return next(g for g in m.groups() if g is not None)


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.I) is not None


def fill_arguments(tool: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    """Arguments for ``tool`` that satisfy its JSON schema, taken from the user's text where possible."""
    props: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    quoted = _quoted(text)
    expr = find_expression(text)
    args: dict[str, Any] = {}
    # one text parameter carries the user's text: a required one, else the first known text name
    text_param = next((n for n in props if n in required and n in _TEXT_PARAMS), None)
    if text_param is None:
        text_param = next((n for n in _TEXT_PARAMS if n in props), None)
    for name, prop in props.items():
        prop = prop or {}
        wanted = name in required or name == text_param or name == "operation"
        if not wanted:
            continue
        typ = prop.get("type")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), "string")
        enum = prop.get("enum")
        if enum:
            picked = next((v for v in enum if isinstance(v, str) and _mentions(text, v)), None)
            if picked is None and name == "operation":
                op = _operation_from_text(tool, text)
                picked = op if op in enum else None
            args[name] = picked if picked is not None else prop.get("default", enum[0])
        elif name == "operation":
            args[name] = _operation_from_text(tool, text) or prop.get("default") or "execute"
        elif typ in (None, "string"):
            if name in _TEXT_PARAMS:
                if tool == "calculator" and expr:
                    args[name] = expr
                else:
                    args[name] = quoted or text
            elif "default" in prop:
                args[name] = prop["default"]
            else:
                args[name] = quoted or text
        elif typ in ("integer", "number"):
            args[name] = prop.get("default", prop.get("minimum", 1))
        elif typ == "boolean":
            args[name] = prop.get("default", False)
        elif typ == "array":
            args[name] = prop.get("default", [])
        elif typ == "object":
            args[name] = prop.get("default", {})
        else:
            args[name] = prop.get("default")
    return args


def _operation_from_text(tool: str, text: str) -> str | None:
    if tool == "base64-encoder" and _mentions(text, "decode"):
        return "decode"
    if tool == "hash-calculator" and _mentions(text, "verify"):
        return "verify"
    if tool == "text-manipulator":
        for op in ("uppercase", "lowercase", "reverse", "snake_case", "camel_case", "trim"):
            if _mentions(text, op) or _mentions(text, op.replace("case", " case")):
                return op
    return _DEFAULT_OPERATION.get(tool)


def _result_summary(content: str) -> str:
    """The interesting part of a tool result (``result.hash``, ``result.result`` ...) as short text."""
    try:
        data = json.loads(content)
    except (ValueError, TypeError):
        return _shorten(content, 300)
    if isinstance(data, dict):
        if data.get("success") is False and data.get("error"):
            err = data["error"]
            return "error: " + (err.get("message", str(err)) if isinstance(err, dict) else str(err))
        res = data.get("result", data)
        if isinstance(res, dict):
            for key in ("result", "hash", "uuid", "output", "id", "datetime", "rendered", "text"):
                if key in res and not isinstance(res[key], (dict, list)):
                    return str(res[key])
        if not isinstance(res, (dict, list)):
            return str(res)
        return _shorten(json.dumps(res, ensure_ascii=False, sort_keys=True), 300)
    return _shorten(json.dumps(data, ensure_ascii=False), 300)


# ------------------------------------------------------------------------------------ the provider


class ScriptedProvider:
    """Deterministic offline provider (see the module docstring). ``calls`` records every request."""

    name = "scripted"

    def __init__(
        self,
        model: str = "offline/scripted",
        *,
        rules: Iterable[ScriptRule | dict[str, Any]] | None = None,
        failures: Iterable[int] | None = None,
        tool_heuristics: bool = True,
    ):
        self.model = model
        self.rules: list[ScriptRule] = [r if isinstance(r, ScriptRule) else ScriptRule(**r) for r in rules or ()]
        self._fired: dict[int, int] = {}
        self._failures: deque[int] = deque(failures or ())
        self.tool_heuristics = tool_heuristics
        self.capabilities = ProviderCapabilities(
            supports_streaming=True, supports_tools=True, max_context_tokens=128_000, available_models=[model]
        )
        self.calls: list[CompletionRequest] = []

    # -------------------------------------------------------------------------------- configuration

    def add_rule(self, rule: ScriptRule | dict[str, Any]) -> ScriptRule:
        r = rule if isinstance(rule, ScriptRule) else ScriptRule(**rule)
        self.rules.append(r)
        return r

    def fail_next(self, *statuses: int) -> None:
        """Queue failures: the next ``len(statuses)`` calls raise these statuses, in order."""
        self._failures.extend(statuses)

    # -------------------------------------------------------------------------------- protocol

    async def complete(self, req: CompletionRequest) -> Completion:
        self.calls.append(req)
        return await self._answer(req)

    async def stream(self, req: CompletionRequest) -> AsyncIterator[StreamChunk]:
        self.calls.append(req)
        comp = await self._answer(req)
        for piece in re.findall(r"\S+\s*|\s+", comp.text):
            yield StreamChunk(text=piece)
            await asyncio.sleep(0)
        yield StreamChunk(tool_calls=comp.tool_calls, finish_reason=comp.finish_reason, usage=comp.usage)

    # -------------------------------------------------------------------------------- behaviour

    def _match(self, req: CompletionRequest) -> ScriptRule | None:
        last = req.messages[-1].role if req.messages else "user"
        subject = req.last_user_text()
        for i, rule in enumerate(self.rules):
            if (rule.when == "user" and last == "tool") or (rule.when == "tool_result" and last != "tool"):
                continue
            if rule.times is not None and self._fired.get(i, 0) >= rule.times:
                continue
            if rule.model is not None and not fnmatch.fnmatchcase(req.model or self.model, rule.model):
                continue
            if re.search(rule.pattern, subject, re.S):
                self._fired[i] = self._fired.get(i, 0) + 1
                return rule
        return None

    async def _answer(self, req: CompletionRequest) -> Completion:
        if self._failures:
            raise provider_failure(self._failures.popleft())
        rule = self._match(req)
        tool_calls: list[ToolCall] = []
        text: str
        if rule is not None:
            if rule.delay_s:
                await asyncio.wait_for(asyncio.sleep(rule.delay_s), timeout=req.timeout_s)
            if rule.fail is not None:
                raise provider_failure(rule.fail, rule.message)
            if rule.tool_calls and req.tools:
                tool_calls = self._rule_tool_calls(req, rule.tool_calls)
            text = self._template(rule.reply, req) if rule.reply is not None else ""
            if not tool_calls and rule.reply is None:
                text = self._default_text(req)
        elif req.messages and req.messages[-1].role == "tool":
            text = self._after_tools(req)
        else:
            picked = self._pick_tool(req) if (req.tools and self.tool_heuristics) else None
            if picked is not None:
                spec = req.tool_spec(picked) or {}
                args = fill_arguments(picked, spec.get("parameters") or {}, req.last_user_text())
                tool_calls = [ToolCall(id=self._call_id(req, 0), name=picked, arguments=args)]
                text = ""
            else:
                text = self._default_text(req)
        prompt_chars = sum(len(m.content or "") for m in req.messages)
        completion_tokens = estimate_tokens(text) + sum(
            estimate_tokens(json.dumps(c.arguments)) for c in tool_calls
        )
        usage = Usage(
            prompt_tokens=(prompt_chars + 3) // 4,
            completion_tokens=completion_tokens,
            total_tokens=(prompt_chars + 3) // 4 + completion_tokens,
            cost_usd=0.0,
        )
        return Completion(
            text=text,
            tool_calls=tool_calls,
            finish_reason="tool_calls" if tool_calls else "stop",
            usage=usage,
            model=req.model,
            provider=self.name,
        )

    def _call_id(self, req: CompletionRequest, i: int) -> str:
        # deterministic for a given conversation point, without hashing the whole history
        key = f"{req.model}:{len(req.messages)}:{req.last_user_text()}:{i}"
        return "call_" + hashlib.sha1(key.encode()).hexdigest()[:12]

    def _rule_tool_calls(self, req: CompletionRequest, calls: list[dict[str, Any]]) -> list[ToolCall]:
        out = []
        for i, c in enumerate(calls):
            name = c["name"]
            args = c.get("arguments")
            if args is None:
                spec = req.tool_spec(name) or {}
                args = fill_arguments(name, spec.get("parameters") or {}, req.last_user_text())
            out.append(ToolCall(id=self._call_id(req, i), name=name, arguments=dict(args)))
        return out

    def _pick_tool(self, req: CompletionRequest) -> str | None:
        text = req.last_user_text()
        names = [n for n in req.tool_names() if n]
        for n in sorted(names, key=len, reverse=True):
            if any(_mentions(text, v) for v in {n, n.replace("-", " "), n.replace("-", "_"), n.replace("_", " ")}):
                return n
        for tool, pat in _TOOL_HINTS:
            if tool in names and pat.search(text):
                return tool
        if "calculator" in names and find_expression(text) and safe_eval(find_expression(text) or "") is not None:
            return "calculator"
        return None

    def _template(self, reply: str, req: CompletionRequest) -> str:
        tool_result = next((m.content or "" for m in reversed(req.messages) if m.role == "tool"), "")
        return (
            reply.replace("{input}", req.last_user_text())
            .replace("{model}", self.model)
            .replace("{tool_result}", _result_summary(tool_result) if tool_result else "")
        )

    def _after_tools(self, req: CompletionRequest) -> str:
        names: dict[str, str] = {}
        results: list[ChatMessage] = []
        for m in req.messages:
            if m.role == "assistant":
                for c in m.tool_calls:
                    names[c.id] = c.name
        for m in reversed(req.messages):
            if m.role != "tool":
                break
            results.insert(0, m)
        parts = []
        for m in results:
            tool = m.name or names.get(m.tool_call_id or "", "tool")
            parts.append(f"{tool} returned {_result_summary(m.content or '')}")
        return f"[offline {self.model}] Using my tools: " + "; ".join(parts) + "."

    def _delegation_reply(self, user: str) -> str | None:
        """Answers to the hierarchical agent's planning and synthesis prompts, so a supervisor really
        plans (a JSON ``{worker: subtask}``) and synthesises its workers' results offline."""
        plan = _PLAN.match(user)
        if plan:
            workers = [w.strip() for w in plan.group(1).split(",") if w.strip()]
            task = plan.group(2).strip()
            return json.dumps({w: task for w in workers}, ensure_ascii=False)
        synth = _SYNTH.match(user)
        if synth:
            results = re.findall(r"^- ([^:\n]+): (.*)$", synth.group(2), re.M)
            parts = [f"{name} said {_shorten(text, 80)!r}" for name, text in results]
            return (f"[offline {self.model}] Combined answer to \"{_shorten(synth.group(1).strip(), 80)}\" from "
                    f"{len(results)} worker(s): " + "; ".join(parts) + ".")
        return None

    def _default_text(self, req: CompletionRequest) -> str:
        user = req.last_user_text()
        delegated = self._delegation_reply(user)
        if delegated is not None:
            return delegated
        role = role_of(req.system_prompt())
        turn = sum(1 for m in req.messages if m.role == "user")
        parts = [f"[offline {self.model}]"]
        quote = f'"{_shorten(user, 160)}"'
        if role:
            parts.append(f"As {role}, I received: {quote}.")
        elif sp := req.system_prompt():
            instruction = _shorten(sp.strip().split(".")[0], 60)
            parts.append(f"Following the instruction \"{instruction}\", I received: {quote}.")
        else:
            parts.append(f"I received: {quote}.")
        expr = find_expression(user)
        value = safe_eval(expr) if expr else None
        if expr and value is not None and any(op in expr for op in "+-*/%"):
            parts.append(f"{expr} = {value}.")
        if turn > 1:
            parts.append(f"(Turn {turn} of our conversation.)")
        parts.append("This is a deterministic offline reply; configure a model for real answers.")
        return " ".join(parts)
