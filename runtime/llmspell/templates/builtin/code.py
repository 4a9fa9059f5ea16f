"""code-generator (codegen) and code-review (Development)."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.templates.base import CostEstimate, Template, TemplateRun
from llmspell.templates.schema import Param, memory_parameters, model_param, provider_parameters

EXTENSIONS = {"rust": "rs", "python": "py", "javascript": "js", "typescript": "ts", "go": "go", "java": "java",
              "cpp": "cpp", "lua": "lua"}
_FENCE = re.compile(r"```[A-Za-z0-9_+-]*\n(.*?)```", re.S)


def extract_code(text: str) -> str:
    """The fenced code blocks of an answer joined, or the whole answer when it has none."""
    blocks = _FENCE.findall(text)
    return "\n\n".join(b.strip("\n") for b in blocks) if blocks else text.strip()


def lint(language: str, code: str) -> dict[str, Any]:
    """A local static check: Python is parsed with ``ast``, Lua compiled with lupa, JSON-like brace
    balance for the others. ``{checked, ok, message}``."""
    if language == "python":
        try:
            ast.parse(code)
            return {"checked": True, "ok": True, "message": "python: parses"}
        except SyntaxError as e:
            return {"checked": True, "ok": False, "message": f"python: line {e.lineno}: {e.msg}"}
    if language == "lua":
        try:
            import lupa.lua54 as lupa

            rt = lupa.LuaRuntime()
            err = rt.eval('function(src) local f, e = load(src, "=code") if f then return "" end return e end')(code)
            if err:
                return {"checked": True, "ok": False, "message": f"lua: {err}"}
            return {"checked": True, "ok": True, "message": "lua: compiles"}
        except ImportError:  # pragma: no cover - lupa is a dependency
            return {"checked": False, "ok": True, "message": "lua: not checked"}
    depth = 0
    for ch in code:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            break
    ok = depth == 0
    return {"checked": True, "ok": ok, "message": f"{language}: braces {'balanced' if ok else 'unbalanced'}"}


class CodeGenerator(Template):
    """Specification agent -> implementation agent -> test agent (optional) -> local lint."""

    id = "code-generator"
    name = "Code Generator"
    description = ("AI-powered code generation with specification, implementation, and tests. Takes a "
                   "description and generates code in your chosen programming language with documentation.")
    category = "codegen"
    requires = ("code-tools", "lint")
    tags = ("code", "generation", "testing", "programming", "automation")

    def params(self) -> list[Param]:
        return [
            Param("description", "Description of the code to generate", "string", required=True, min_length=10),
            Param("language", "Programming language for code generation", "string", default="rust",
                  allowed=tuple(EXTENSIONS)),
            Param("include_tests", "Whether to generate unit tests for the code", "boolean", default=True),
            model_param("LLM model to use for code generation agents"),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        tests = params.get("include_tests", True) is not False
        return CostEstimate(tokens=4500 if tests else 3000, duration_ms=13000 if tests else 9000, confidence=0.7)

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        lang, desc = p["language"], p["description"]
        memory = await run.memory_context(desc)
        spec = await run.agent("spec", f"{('Context: ' + memory + chr(10)) if memory else ''}Write a concise "
                               f"technical specification for this {lang} code:\n{desc}",
                               system_prompt="You are a software architect writing specifications.")
        impl_text = await run.agent("implementation", f"Implement this specification in {lang}. Answer with one "
                                    f"```{lang} code block.\n\nSPECIFICATION:\n{spec}",
                                    system_prompt=f"You are an expert {lang} developer.", temperature=0.2)
        code = extract_code(impl_text)
        ext = EXTENSIONS[lang]
        run.save_artifact("specification.md", spec, "text/markdown")
        run.save_artifact(f"main.{ext}", code, "text/plain", language=lang)
        tests = ""
        if p["include_tests"]:
            tests = extract_code(await run.agent("tests", f"Write unit tests in {lang} for this code. Answer with "
                                                 f"one ```{lang} code block.\n\n{code}",
                                                 system_prompt=f"You are a {lang} test engineer.", temperature=0.2))
            run.save_artifact(f"test_main.{ext}", tests, "text/plain", language=lang)
        check = lint(lang, code)
        run.metrics.custom.update({"language": lang, "code_lines": len(code.splitlines()), "lint_ok": check["ok"]})
        parts = [f"# Generated {lang} code", "", "## Specification", "", spec, "", "## Implementation", "",
                 f"```{lang}", code, "```"]
        if tests:
            parts += ["", "## Tests", "", f"```{lang}", tests, "```"]
        parts += ["", "## Lint", "", check["message"]]
        await run.remember(f"Generate {lang} code: {desc[:200]}", f"Generated {len(code.splitlines())} lines")
        return "\n".join(parts) + "\n"


ASPECTS = {
    "security": "security vulnerabilities (injection, secrets, unsafe input handling)",
    "quality": "code quality (readability, naming, complexity, duplication)",
    "performance": "performance problems (needless allocation, quadratic loops, blocking calls)",
    "practices": "language best practices and idioms",
    "dependencies": "dependency usage (outdated, unnecessary or risky imports)",
    "architecture": "architecture and design (coupling, responsibilities, layering)",
    "docs": "documentation (missing or misleading comments and docstrings)",
}
SEVERITIES = ("critical", "high", "medium", "low")
_ISSUE = re.compile(r"(?im)^\s*[-*\d.]*\s*\[?(critical|high|medium|low)\]?\s*[:\-]\s*(.+)$")


class CodeReview(Template):
    """One reviewer agent per aspect over the code read through the path policy; issues are parsed
    from ``[severity]: text`` lines; optional fix agent."""

    id = "code-review"
    name = "Code Review"
    description = ("Multi-aspect code review with 7 specialized AI reviewers. Analyzes security, quality, "
                   "performance, best practices, dependencies, architecture, and documentation.")
    category = "Development"
    requires = ("agents",)
    tags = ("code-review", "quality", "security", "performance", "static-analysis")

    def params(self) -> list[Param]:
        return [
            Param("code_path", "File or directory path to review", "string", required=True, min_length=1),
            Param("language", "Programming language of the code being reviewed", "string", required=True,
                  allowed=("rust", "python", "javascript", "typescript", "go", "java")),
            Param("aspects", "Review aspects to analyze (" + ", ".join(ASPECTS) + ")", "array",
                  default=list(ASPECTS)),
            Param("severity_filter", "Filter issues by severity level", "string", default="all",
                  allowed=(*SEVERITIES, "all")),
            Param("generate_fixes", "Generate fix suggestions for identified issues", "boolean", default=False),
            Param("output_format", "Output format for review results", "string", default="markdown",
                  allowed=("markdown", "json", "text")),
            model_param("LLM model to use for review agents"),
            Param("temperature", "Temperature for LLM agents (0.0-1.0)", "number", default=0.2, min=0.0, max=1.0),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        n = len(params.get("aspects") or ASPECTS)
        fixes = bool(params.get("generate_fixes"))
        return CostEstimate(tokens=n * 800 + (1200 if fixes else 0), duration_ms=n * 4000 + (5000 if fixes else 0),
                            confidence=0.75)

    def _files(self, run: TemplateRun, path: str, language: str) -> list[tuple[str, str]]:
        ext = {"rust": ".rs", "python": ".py", "javascript": ".js", "typescript": ".ts", "go": ".go",
               "java": ".java"}[language]
        gate = run.runtime.policy.gate
        kind = gate.kind(path)
        if kind is None:
            raise ValidationError(f"Template.execute('{self.id}'): parameter 'code_path': no file or directory "
                                  f"'{path}'")
        if kind == "directory":
            names = sorted(e.rel for e in gate.scandir(path, recursive=True, max_depth=4)
                           if e.kind == "file" and e.name.endswith(ext))
            files = [(n, run.read_text(f"{path.rstrip('/')}/{n}", max_bytes=200_000)) for n in names[:20]]
        else:
            files = [(path.rsplit("/", 1)[-1], run.read_text(path, max_bytes=200_000))]
        if not files:
            raise ValidationError(f"Template.execute('{self.id}'): no {language} files ({ext}) under '{path}'")
        return files

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        aspects = [str(a) for a in p["aspects"]]
        bad = [a for a in aspects if a not in ASPECTS]
        if bad or not aspects:
            raise ValidationError(f"Template.execute('{self.id}'): parameter 'aspects' must list some of "
                                  f"{', '.join(ASPECTS)}; unknown: {', '.join(bad) or '(empty list)'}")
        files = self._files(run, p["code_path"], p["language"])
        code = "\n\n".join(f"// FILE: {n}\n{c}" for n, c in files)
        findings: dict[str, Any] = {}
        issues: list[dict[str, str]] = []
        for a in aspects:
            text = await run.agent(f"review-{a}", f"Review this {p['language']} code for {ASPECTS[a]}. List each "
                                   "issue on its own line as '[severity]: description' (critical, high, medium, "
                                   f"low).\n\n{code}", system_prompt=f"You are a {a} code reviewer.",
                                   temperature=float(p["temperature"]))
            found = [{"aspect": a, "severity": m.group(1).lower(), "description": m.group(2).strip()}
                     for m in _ISSUE.finditer(text)]
            if p["severity_filter"] != "all":
                found = [i for i in found if i["severity"] == p["severity_filter"]]
            findings[a] = {"review": text, "issues": found}
            issues += found
        fixes = ""
        if p["generate_fixes"]:
            fixes = await run.agent("fixes", "Suggest fixes for these review findings:\n" + "\n".join(
                f"- [{i['severity']}] {i['aspect']}: {i['description']}" for i in issues) + f"\n\nCODE:\n{code}",
                system_prompt="You propose minimal code fixes.")
        counts = {s: sum(1 for i in issues if i["severity"] == s) for s in SEVERITIES}
        run.metrics.custom.update({"files_reviewed": len(files), "aspects": len(aspects), "issues": len(issues)})
        data = {"files": [n for n, _ in files], "aspects": findings, "issues": issues, "counts": counts,
                "fixes": fixes or None}
        if p["output_format"] == "json":
            run.result_type = "structured"
            run.save_artifact("review.json", json.dumps(data, indent=2), "application/json")
            return data
        md = p["output_format"] == "markdown"
        lines = [("# " if md else "") + f"Code review: {', '.join(n for n, _ in files)}", "",
                 "Issues: " + ", ".join(f"{s} {c}" for s, c in counts.items())]
        for a, f in findings.items():
            lines += ["", ("## " if md else "") + a, "", f["review"]]
        if fixes:
            lines += ["", ("## " if md else "") + "Suggested fixes", "", fixes]
        report = "\n".join(lines) + "\n"
        run.save_artifact("review.md" if md else "review.txt", report, "text/markdown" if md else "text/plain")
        return report
