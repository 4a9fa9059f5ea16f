"""textDocument/completion: globals, members, parameter-table keys and values, named strings, snippets.

The result is returned as :class:`RawJSON`: member and global item lists depend only on (type, language,
call separator, client options), so their serialized JSON is built once per API model and spliced into
every response — no per-request object building or cattrs unstructuring on the hot path. Items carry
their documentation: inline for clients that cannot resolve it, otherwise as a small ``data`` id that
``completionItem/resolve`` turns into the text (smaller responses: less to write and for the client to
parse on every keystroke).
"""

from __future__ import annotations

import json
import re
from typing import Any

from llmspell_ls.analysis import stdlib
from llmspell_ls.analysis.common import TABLE_PREFIX, CallSite, Context, TypeEngine, TypeRef, analyze, literal_string
from llmspell_ls.apimodel import ApiIndex, Class, Field, Function, Lang, Param
from llmspell_ls.documents import DocState
from llmspell_ls.features import ranking
from llmspell_ls.features.common import (
    ClientOptions,
    RawJSON,
    class_doc,
    context_window,
    engine_for,
    field_doc,
    function_doc,
    markup,
    offset_of,
    range_of,
    tool_doc,
)

# LSP CompletionItemKind values
K_METHOD, K_FUNCTION, K_FIELD, K_VARIABLE, K_CLASS, K_MODULE, K_PROPERTY = 2, 3, 5, 6, 7, 9, 10
K_VALUE, K_KEYWORD, K_SNIPPET, K_ENUM_MEMBER, K_CONSTANT = 12, 14, 15, 20, 21
MAX_ITEMS = 200

EMPTY = RawJSON('{"isIncomplete":false,"items":[]}')


def _cache(index: ApiIndex) -> dict[Any, Any]:
    c = index.__dict__.get("_completion_cache")
    if c is None:
        c = index.__dict__["_completion_cache"] = {}
    return c  # type: ignore[no-any-return]


_DOC_IDS: dict[str, int] = {}
_DOCS: list[str] = []


def doc_id(doc: str) -> int:
    """A stable small id for a documentation text (all texts come from the model, so this is bounded)."""
    got = _DOC_IDS.get(doc)
    if got is None:
        got = _DOC_IDS[doc] = len(_DOCS)
        _DOCS.append(doc)
    return got


def resolve_item(item: Any, opts: ClientOptions) -> Any:
    """completionItem/resolve: fill in the documentation named by ``item.data``."""
    data = getattr(item, "data", None)
    if isinstance(data, int) and 0 <= data < len(_DOCS) and getattr(item, "documentation", None) is None:
        from lsprotocol import types as lsp

        item.documentation = lsp.MarkupContent(
            kind=lsp.MarkupKind.Markdown if opts.markdown else lsp.MarkupKind.PlainText, value=_DOCS[data])
    return item


def _item(label: str, kind: int, detail: str, doc: str, opts: ClientOptions, *, deprecated: bool = False,
          insert: str | None = None, snippet: bool = False, sort: str | None = None,
          filter_text: str | None = None) -> dict[str, Any]:
    it: dict[str, Any] = {"label": label, "kind": kind}
    if detail:
        it["detail"] = detail
    if doc:
        if opts.resolve_docs:
            it["data"] = doc_id(doc)
        else:
            it["documentation"] = markup(doc, opts.markdown)
    if deprecated:
        if opts.deprecated_tag:
            it["tags"] = [1]
        elif opts.deprecated_flag:
            it["deprecated"] = True
    if insert is not None and insert != label:
        it["insertText"] = insert
        if snippet:
            it["insertTextFormat"] = 2
    if sort:
        it["sortText"] = sort
    if filter_text:
        it["filterText"] = filter_text
    return it


def _snippet(fn: Function, lang: Lang, opts: ClientOptions, with_parens: bool) -> tuple[str, bool]:
    name = fn.lname(lang)
    if not with_parens:
        return name, False
    req = [p for p in fn.params if not p.optional and not p.variadic]
    if not opts.snippets:
        return name + ("()" if not fn.params else "("), False
    if not req:
        return name + "()$0", True
    args = ", ".join(f"${{{i}:{p.name}}}" for i, p in enumerate(req, 1))
    return f"{name}({args})$0", True


def member_items(index: ApiIndex, type_name: str, sep: str, lang: Lang, opts: ClientOptions,
                 with_parens: bool) -> str:
    """Serialized item array for the members of ``type_name`` reachable with ``sep`` (cached)."""
    key = ("members", type_name, sep, lang, opts, with_parens)
    cache = _cache(index)
    got = cache.get(key)
    if got is not None:
        return got  # type: ignore[no-any-return]
    c = index.type_(type_name)
    items: list[dict[str, Any]] = []
    if c is not None:
        is_static = c.kind == "global"
        want_functions = lang == "javascript" or (sep == "." if is_static else sep == ":")
        want_fields = lang == "javascript" or sep == "."
        if want_fields:
            for f in c.fields:
                items.append(_item(f.lname(lang), K_FIELD if not is_static else K_PROPERTY,
                                   f.type, field_doc(f, c.name, lang), opts,
                                   sort=("b" if f.optional else "a") + ranking.rank(0) + f.lname(lang)
                                   if c.kind == "record" else ranking.method_sort(f.name)))
        if want_functions:
            for fn in c.functions:
                insert, snip = _snippet(fn, lang, opts, with_parens)
                items.append(_item(
                    fn.lname(lang), K_FUNCTION if is_static else K_METHOD,
                    _detail(fn, lang), function_doc(index, fn, lang), opts,
                    deprecated=bool(fn.deprecated), insert=insert, snippet=snip,
                    sort=ranking.method_sort(fn.name, bool(fn.deprecated)),
                ))
    got = json.dumps(items, separators=(",", ":"))
    cache[key] = got
    return got


def _detail(fn: Function, lang: Lang) -> str:
    ret = fn.owner if fn.returns_self else fn.returns
    if lang == "javascript":
        params = ", ".join(p.name + ("?" if p.optional else "") for p in fn.params)
        r = f"Promise<{ret}>" if fn.is_async else ret
        return f"({params}) => {r}"
    params = ", ".join(p.name + ("?" if p.optional else "") for p in fn.params)
    return f"({params}) -> {ret}" + ("  (async)" if fn.is_async else "")


def global_items(index: ApiIndex, lang: Lang, opts: ClientOptions) -> list[dict[str, Any]]:
    key = ("globals", lang, opts)
    cache = _cache(index)
    got = cache.get(key)
    if got is None:
        from llmspell_ls.analysis.common import spec_for

        got = []
        for g in index.globals.values():
            if lang == "javascript" and g.name == "JSON":
                continue
            got.append(_item(g.name, K_VARIABLE if g.kind == "value" else K_MODULE,
                             "global" if g.kind != "value" else (g.type or ""), class_doc(g, lang), opts,
                             sort=ranking.global_sort(g.name)))
        for e in stdlib.globals_of(lang).values():
            if e.name in index.globals and not (lang == "javascript" and e.name == "JSON"):
                continue  # an API global of the same name (Lua's JSON) is the one spells see
            kind = K_FUNCTION if e.is_function else (K_MODULE if stdlib.module(lang, e.name) else K_VARIABLE)
            got.append(_item(e.name, kind, "builtin", stdlib.entry_doc(e, lang), opts,
                             sort=ranking.stdlib_sort(e.name, True)))
        for kw in spec_for(lang).KEYWORD_COMPLETIONS:
            got.append(_item(kw, K_KEYWORD, "", "", opts, sort=ranking.KEYWORD_SORT + kw))
        cache[key] = got
    return got  # type: ignore[no-any-return]


def _fuzzy(prefix: str, label: str) -> bool:
    if not prefix:
        return True
    p = prefix.lower()
    lab = label.lower()
    if lab[:1] != p[:1]:
        return False
    i = 0
    for ch in lab:
        if i < len(p) and ch == p[i]:
            i += 1
    return i == len(p)


def _result(items_json: str, incomplete: bool = False) -> RawJSON:
    flag = "true" if incomplete else "false"
    return RawJSON(f'{{"isIncomplete":{flag},"items":{items_json}}}')


def _list(items: list[dict[str, Any]], prefix: str) -> RawJSON:
    chosen = [it for it in items if _fuzzy(prefix, it.get("filterText") or it["label"])]
    incomplete = len(chosen) > MAX_ITEMS
    return _result(json.dumps(chosen[:MAX_ITEMS], separators=(",", ":")), incomplete)


def completion(doc: DocState, index: ApiIndex, line: int, character: int, opts: ClientOptions) -> RawJSON:
    """Completion items at a client position (see module docstring for the result format)."""
    offset = offset_of(doc, line, character, opts.encoding)
    engine = engine_for(doc, index)
    ctx = analyze(engine, offset, context_window(doc, offset))
    nxt = doc.text[offset:offset + 1]
    with_parens = nxt != "(" and not (nxt.isalnum() or nxt == "_")
    return answer(doc, index, engine, ctx, offset, opts, with_parens)


def answer(doc: DocState, index: ApiIndex, engine: TypeEngine, ctx: Context, offset: int, opts: ClientOptions,
           with_parens: bool) -> RawJSON:
    """:func:`completion` once the context at ``offset`` is known."""
    if ctx.kind == "comment":
        return EMPTY
    if ctx.kind == "member":
        if ctx.receiver is None and ctx.receiver_name:
            got = stdlib_member_items(engine, ctx.receiver_name, ctx.sep, offset, opts, with_parens)
            return _result(got) if got is not None else EMPTY
        if ctx.receiver is None or ctx.receiver.promise:
            return EMPTY
        if ctx.receiver.name.startswith(TABLE_PREFIX):
            return _list(_table_items(engine, ctx.receiver, opts), "")
        return _result(member_items(index, ctx.receiver.name, ctx.sep, doc.lang, opts, with_parens))
    if ctx.kind == "identifier":
        items = list(global_items(index, doc.lang, opts))
        items += _local_items(doc, offset, opts)
        return _list(items, ctx.prefix)
    if ctx.kind == "string":
        got = _string_items(doc, index, ctx, offset, opts)
        return _result(got) if got is not None else EMPTY
    if ctx.kind == "table_key":
        return _list(_key_items(doc, index, ctx, opts), ctx.prefix)
    if ctx.kind == "table_value":
        return _list(_value_items(doc, index, ctx, offset, opts), "")
    return EMPTY


def _local_items(doc: DocState, offset: int, opts: ClientOptions) -> list[dict[str, Any]]:
    """Names the spell assigns (cached per document version)."""
    names = doc.cache.get("local_names")
    if names is None:
        from llmspell_ls.analysis.common import spec_for

        spec = spec_for(doc.lang)
        names = sorted({m.group(1) for m in spec.ASSIGN_RE.finditer(doc.text)} - spec.KEYWORDS)
        doc.cache["local_names"] = names
    return [_item(n, K_VARIABLE, "", "", opts, sort=ranking.local_sort(n)) for n in names]


def stdlib_member_items(engine: TypeEngine, name: str, sep: str, offset: int, opts: ClientOptions,
                        with_parens: bool) -> str | None:
    """``string.`` / ``math.`` / ``Math.`` …: the library's members (None when ``name`` is not a library
    table, or the spell declares or assigns a variable of that name)."""
    lang = engine.lang
    members = stdlib.module(lang, name)
    if members is None or (lang == "lua" and sep != "."):
        return None
    if engine.declares(name, offset):
        return None
    key = ("stdlib", lang, name, opts, with_parens)
    cache = _cache(engine.index)
    got = cache.get(key)
    if got is None:
        items = []
        for e in members.values():
            insert = None
            snip = False
            if e.is_function and with_parens:
                if opts.snippets:
                    insert, snip = (e.short + "($1)$0", True) if e.params else (e.short + "()$0", True)
                else:
                    insert = e.short + "("
            items.append(_item(e.short, K_FUNCTION if e.is_function else K_CONSTANT, e.signature or "",
                               stdlib.entry_doc(e, lang), opts, insert=insert, snippet=snip,
                               sort=ranking.stdlib_sort(e.short, False)))
        got = cache[key] = json.dumps(items, separators=(",", ":"))
    return got  # type: ignore[no-any-return]


def _table_items(engine: TypeEngine, t: TypeRef, opts: ClientOptions) -> list[dict[str, Any]]:
    """The keys of a table constructor the receiver was assigned (``local t = {agent = …}``; ``t.``), then
    (Lua) what the spell sets on it later: ``t.k = …``, ``function t:m()`` / ``t.f()``, and ``self.k = …``
    in ``t``'s methods (so ``self.`` / ``self:`` inside them list the table's fields and methods)."""
    out = []
    keys = engine.table_keys(t)
    for k, at in keys.items():
        vt = engine._table_field(t, k)
        detail = vt.name if vt is not None and not vt.name.startswith(TABLE_PREFIX) else ""
        out.append(_item(k, K_FIELD, detail, "", opts, sort=f"a{at:08d}"))
    for k, (kind, at) in _assigned_members(engine, t).items():
        if k not in keys:
            out.append(_item(k, kind, "", "", opts, sort=f"a{at:08d}"))
    return out


def _assigned_members(engine: TypeEngine, t: TypeRef) -> dict[str, tuple[int, int]]:
    """name -> (completion kind, offset) of members a Lua spell sets on the table declared by ``t``."""
    if engine.lang != "lua" or engine.scopes is None:
        return {}
    text = engine.text
    off = int(t.name[len(TABLE_PREFIX):])
    m = re.search(r"([A-Za-z_]\w*)\s*=\s*(?:setmetatable\s*\(\s*)?$", text[max(0, off - 200):off])
    if m is None:
        return {}
    name = m.group(1)
    key = ("assigned-members", name, off)
    got = engine.cache.get(key)
    if got is not None:
        return got  # type: ignore[no-any-return]
    got = {}
    rn = re.escape(name)
    for fm in re.finditer(rf"\bfunction\s+{rn}\s*([.:])\s*([A-Za-z_]\w*)", text):
        got.setdefault(fm.group(2), (K_METHOD if fm.group(1) == ":" else K_FUNCTION, fm.start(2)))
    for am in re.finditer(rf"(?<![\w.:]){rn}\s*\.\s*([A-Za-z_]\w*)\s*=(?!=)", text):
        got.setdefault(am.group(1), (K_FIELD, am.start(1)))
    for sm in re.finditer(r"(?<![\w.:])self\s*\.\s*([A-Za-z_]\w*)\s*=(?!=)", text):
        st = engine.scopes.self_table(sm.start())
        if st is not None and st[0] == name:
            got.setdefault(sm.group(1), (K_FIELD, sm.start(1)))
    engine.cache[key] = got
    return got


def param_at(call: CallSite) -> Param | None:
    fn = call.function
    if fn is None or not fn.params:
        return None
    if call.arg_index < len(fn.params):
        return fn.params[call.arg_index]
    last = fn.params[-1]
    return last if last.variadic else None


_RANGE = "@@RANGE@@"


def _string_items(doc: DocState, index: ApiIndex, ctx: Context, offset: int, opts: ClientOptions) -> str | None:
    """Serialized items naming catalog entries / allowed values; built once per parameter and client, the
    replace range (the only per-request part) is spliced in."""
    if ctx.call is None:
        return None
    p = param_at(ctx.call)
    if p is None or not (p.names or p.values):
        return None
    key = ("strings", p.names, tuple(p.values or ()), p.name, p.doc, opts)
    cache = _cache(index)
    template = cache.get(key)
    if template is None:
        items: list[dict[str, Any]] = []
        for name, entry in index.catalog(p.names).items():
            doc_text = entry.doc
            if p.names == "tools" and name in index.tools:
                doc_text = tool_doc(index.tools[name])
            it = _item(name, K_ENUM_MEMBER, entry.detail, doc_text, opts, deprecated=bool(entry.deprecated))
            it["textEdit"] = {"range": _RANGE, "newText": name}
            items.append(it)
        for v in p.values or ():
            it = _item(v, K_VALUE, p.name, p.doc, opts)
            it["textEdit"] = {"range": _RANGE, "newText": v}
            items.append(it)
        template = cache[key] = json.dumps(items, separators=(",", ":"))
    rng = json.dumps(range_of(doc, ctx.prefix_start, offset, opts.encoding), separators=(",", ":"))
    return template.replace(f'"{_RANGE}"', rng)


def _table_shape(index: ApiIndex, ctx: Context, lang: Lang) -> tuple[str, Any] | None:
    """What the table at the cursor is: ("tool", ToolInfo) or ("record", Class)."""
    call = ctx.call
    if call is None or call.function is None:
        return None
    p = param_at(call)
    if p is None:
        return None
    if p.schema_from and not ctx.table_path:
        names = [q.name for q in call.function.params]
        if p.schema_from in names:
            i = names.index(p.schema_from)
            if i < len(call.args):
                from llmspell_ls.analysis.common import spec_for

                tool_name = literal_string(spec_for(lang), call.args[i])
                tool = index.tools.get(tool_name or "")
                if tool is not None:
                    return "tool", tool
        return None
    rec_name = index.resolve(p.type)
    rec = index.type_(rec_name) if rec_name else None
    for depth, key in enumerate(ctx.table_path):
        if rec is None:
            return None
        if key == "[]":
            continue
        if key in STEP_INPUT_KEYS and depth == len(ctx.table_path) - 1 and depth < len(ctx.table_values):
            # a workflow step's ``input = {…}``: the parameters of the step's tool
            tool = index.tools.get(ctx.table_values[depth].get("tool", ""))
            if tool is not None and any(f.name == "tool" for f in rec.fields):
                return "tool", tool
        f = next((f for f in rec.fields if f.lname(lang) == key), None)
        if f is None:
            return None
        rn = index.resolve(f.type.replace("[]", ""))
        rec = index.type_(rn) if rn else None
    if rec is not None and rec.kind == "record":
        return "record", rec
    return None


def _key_items(doc: DocState, index: ApiIndex, ctx: Context, opts: ClientOptions) -> list[dict[str, Any]]:
    shape = _table_shape(index, ctx, doc.lang)
    if shape is None:
        return []
    kv = " = " if doc.lang == "lua" else ": "
    items: list[dict[str, Any]] = []
    existing = set(ctx.existing_keys)
    if shape[0] == "tool":
        tool = shape[1]
        for p in tool.parameters:
            if p.name in existing:
                continue
            stringy = p.type == "string" or bool(p.values)
            ins = f'{p.name}{kv}"$1"$0' if stringy else f"{p.name}{kv}$0"
            detail = ("required " if p.required else "") + (" | ".join(p.values) if p.values else p.type)
            items.append(_item(p.name, K_PROPERTY, detail, p.description, opts,
                               insert=ins if opts.snippets else f"{p.name}{kv}", snippet=opts.snippets,
                               sort=("0" if p.required else "1") + p.name))
    else:
        rec: Class = shape[1]
        for f in rec.fields:
            name = f.lname(doc.lang)
            if name in existing:
                continue
            stringy = f.type == "string" or bool(f.values)
            ins = f'{name}{kv}"$1"$0' if stringy else f"{name}{kv}$0"
            items.append(_item(name, K_FIELD, f.type, field_doc(f, rec.name, doc.lang), opts,
                               insert=ins if opts.snippets else f"{name}{kv}", snippet=opts.snippets,
                               sort=("1" if f.optional else "0") + name))
    return items


STEP_INPUT_KEYS = ("input", "params")
"""Keys of a workflow step whose table holds the parameters of the step's ``tool``."""

KEY_CATALOGS = {"tool": "tools", "template": "agent_templates", "template_name": "agent_templates",
                "hook_point": "hook_points", "point": "hook_points", "workflow_type": "workflow_types",
                "error_strategy": "error_strategies", "provider": "providers", "category": "tool_categories"}
"""Record keys whose string values name catalog entries (the model's fields carry no ``names``)."""


def _value_items(doc: DocState, index: ApiIndex, ctx: Context, offset: int,
                 opts: ClientOptions) -> list[dict[str, Any]]:
    shape = _table_shape(index, ctx, doc.lang)
    values: list[tuple[str, str]] = []
    if shape is not None and shape[0] == "tool":
        tp = shape[1].param(ctx.key)
        if tp is not None and tp.values:
            values = [(v, tp.description) for v in tp.values]
    elif shape is not None:
        f: Field | None = next((f for f in shape[1].fields if f.lname(doc.lang) == ctx.key), None)
        if f is not None and f.values:
            values = [(v, f.doc) for v in f.values]
    if not values and ctx.key in KEY_CATALOGS:
        values = [(n, e.doc) for n, e in index.catalog(KEY_CATALOGS[ctx.key]).items()]
    rng = range_of(doc, ctx.prefix_start, offset, opts.encoding)
    out = []
    for v, d in values:
        it = _item(v, K_VALUE, ctx.key, d, opts)
        it["textEdit"] = {"range": rng, "newText": v}
        out.append(it)
    return out
