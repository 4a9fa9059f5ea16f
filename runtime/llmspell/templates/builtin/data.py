"""data-analysis (analysis) and file-classification (Productivity)."""

from __future__ import annotations

import json
from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.templates.base import CostEstimate, Template, TemplateRun
from llmspell.templates.schema import Param, memory_parameters, model_param, provider_parameters


def _numeric_summary(stats: Any) -> dict[str, float]:
    """Mean per numeric column from csv-analyzer's ``analyze`` result (best effort over its shapes)."""
    out: dict[str, float] = {}
    cols = stats.get("columns") if isinstance(stats, dict) else None
    items = cols.items() if isinstance(cols, dict) else (
        ((c.get("name"), c) for c in cols if isinstance(c, dict)) if isinstance(cols, list) else ())
    for name, c in items:
        if not isinstance(c, dict):
            continue
        s = c.get("stats")
        mean = (s if isinstance(s, dict) else c).get("mean")
        if isinstance(mean, (int, float)) and not isinstance(mean, bool) and name:
            out[str(name)] = float(mean)
    return out


def bar_chart(values: dict[str, float], width: int = 40) -> str:
    """A text bar chart (one bar per key, scaled to the largest absolute value)."""
    if not values:
        return "(no numeric columns to chart)"
    top = max(abs(v) for v in values.values()) or 1.0
    pad = max(len(k) for k in values)
    return "\n".join(f"{k.ljust(pad)} | {'#' * max(0, round(abs(v) / top * width))} {v:g}" for k, v in values.items())


class DataAnalysis(Template):
    """Load (csv-analyzer / json-processor) -> statistics -> analyst agent -> chart agent + text chart."""

    id = "data-analysis"
    name = "Data Analysis"
    description = ("Automated data analysis with statistical insights and visualization. Loads data files, "
                   "performs analysis with AI agents, and generates charts and reports.")
    category = "analysis"
    requires = ("data-loader", "stats")
    tags = ("analysis", "statistics", "visualization", "data", "charts")

    def params(self) -> list[Param]:
        return [
            Param("data_file", "Path to data file (CSV or JSON format)", "string", required=True, min_length=1),
            Param("analysis_type", "Type of statistical analysis to perform", "string", default="descriptive",
                  allowed=("descriptive", "correlation", "regression", "timeseries", "clustering")),
            Param("chart_type", "Type of chart to generate for visualization", "string", default="bar",
                  allowed=("bar", "line", "scatter", "histogram", "heatmap", "box")),
            model_param("LLM model to use for analysis agents"),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        return CostEstimate(tokens=2500, duration_ms=9000, confidence=0.6)

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        path: str = p["data_file"]
        low = path.lower()
        if low.endswith((".csv", ".tsv", ".txt")):
            out = await run.tool("csv-analyzer", {"operation": "analyze", "file": path})
            stats = out.get("result")
        elif low.endswith((".json", ".jsonl")):
            out = await run.tool("json-processor", {"operation": "query", "query": ".", "file": path})
            data = out.get("result")
            stats = {"type": type(data).__name__, "items": len(data) if isinstance(data, (list, dict)) else 1,
                     "sample": data[:5] if isinstance(data, list) else data}
        else:
            raise ValidationError(f"Template.execute('{self.id}'): parameter 'data_file' must name a .csv, .tsv, "
                                  f".json or .jsonl file, got '{path}'")
        summary = json.dumps(stats, default=str)[:8000]
        analysis = await run.agent("analyst", f"Perform a {p['analysis_type']} analysis of this dataset "
                                   f"({path}). Statistics:\n{summary}\n\nGive key insights.",
                                   system_prompt="You are a data analyst.", temperature=0.3)
        numeric = _numeric_summary(stats)
        chart = bar_chart(numeric)
        chart_notes = await run.agent("visualizer", f"Describe a {p['chart_type']} chart for these column "
                                      f"means: {json.dumps(numeric)}", system_prompt="You design data charts.")
        run.save_artifact("chart.txt", chart + "\n", "text/plain", chart_type=p["chart_type"])
        report = "\n".join([f"# Data analysis: {path}", "", f"Analysis type: {p['analysis_type']}", "",
                            "## Insights", "", analysis, "", f"## Chart ({p['chart_type']})", "", "```", chart, "```",
                            "", chart_notes]) + "\n"
        run.save_artifact("analysis-report.md", report, "text/markdown")
        run.metrics.custom.update({"numeric_columns": len(numeric)})
        return report


EXTENSION_CATEGORIES: dict[str, tuple[str, ...]] = {
    "documents": (".pdf", ".doc", ".docx", ".txt", ".md", ".odt", ".rtf", ".tex"),
    "spreadsheets": (".csv", ".xls", ".xlsx", ".ods", ".tsv"),
    "images": (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".svg", ".webp", ".tiff"),
    "audio": (".mp3", ".wav", ".flac", ".ogg", ".m4a"),
    "video": (".mp4", ".mkv", ".avi", ".mov", ".webm"),
    "code": (".py", ".rs", ".js", ".ts", ".lua", ".go", ".java", ".c", ".cpp", ".h", ".rb", ".sh"),
    "data": (".json", ".yaml", ".yml", ".xml", ".toml", ".parquet", ".sqlite", ".db"),
    "archives": (".zip", ".tar", ".gz", ".bz2", ".xz", ".7z", ".rar"),
}
PRESETS = {"documents": ("documents", "spreadsheets"), "media": ("images", "audio", "video"),
           "code": ("code", "data"), "downloads": tuple(EXTENSION_CATEGORIES)}
CONTENT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("code", ("def ", "function ", "import ", "#include", "fn ", "local ", "class ")),
    ("data", ("{\"", "<?xml", "---\n")),
    ("documents", ("the ", "and ", ". ")),
)


class FileClassification(Template):
    """Scan (gate listing) -> classify (extension / content / hybrid rules) -> act (report, or copy / move
    through the path policy unless ``dry_run``)."""

    id = "file-classification"
    name = "File Classification"
    description = ("Automated file organization with scan-classify-act pattern. Supports multiple "
                   "classification strategies (extension, content, hybrid) with dry-run mode for safe preview.")
    category = "Productivity"
    tags = ("files", "organization", "classification", "automation", "productivity")

    def params(self) -> list[Param]:
        return [
            Param("source_path", "Directory or file path to classify", "string", required=True, min_length=1),
            Param("classification_strategy", "Classification method", "string", default="extension",
                  allowed=("extension", "content", "hybrid")),
            Param("category_preset", "Predefined category set", "string",
                  allowed=("documents", "media", "code", "downloads")),
            Param("action", "Action to perform on files", "string", default="report",
                  allowed=("move", "copy", "report")),
            Param("destination_base", "Base path for move/copy actions", "string"),
            Param("dry_run", "Preview without executing actions", "boolean", default=True),
            Param("recursive", "Scan subdirectories", "boolean", default=False),
            Param("output_format", "Report format", "string", default="text", allowed=("text", "markdown", "json")),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        strategy = str(params.get("classification_strategy") or "extension")
        extra = {"content": 500, "hybrid": 250}.get(strategy, 0)
        dur = (1000 if params.get("recursive") else 500) + {"content": 500, "hybrid": 300}.get(strategy, 100)
        return CostEstimate(tokens=100 + extra, duration_ms=dur, confidence=0.8)

    def classify(self, run: TemplateRun, path: str, name: str, strategy: str, allowed: tuple[str, ...]) -> str:
        ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
        by_ext = next((c for c in allowed if ext in EXTENSION_CATEGORIES[c]), None)
        if strategy == "extension" or (strategy == "hybrid" and by_ext):
            return by_ext or "other"
        try:
            head = run.read_text(path, max_bytes=4096)
        except Exception:
            return by_ext or "other"
        if "\x00" in head:
            return by_ext or "binary"
        for cat, needles in CONTENT_RULES:
            if cat in allowed and any(n in head for n in needles):
                return cat
        return by_ext or "other"

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        gate = run.runtime.policy.gate
        src: str = p["source_path"]
        where = f"Template.execute('{self.id}')"
        kind = gate.kind(src)
        if kind is None:
            raise ValidationError(f"{where}: parameter 'source_path': no file or directory '{src}'")
        if kind == "directory":
            files = [(f"{src.rstrip('/')}/{e.rel}", e.name) for e in
                     gate.scandir(src, recursive=bool(p["recursive"])) if e.kind == "file"]
        else:
            files = [(src, src.rsplit("/", 1)[-1])]
        allowed = PRESETS[p["category_preset"]] if p.get("category_preset") else tuple(EXTENSION_CATEGORIES)
        action, dry = p["action"], bool(p["dry_run"])
        dest = p.get("destination_base")
        if action != "report" and not dest:
            raise ValidationError(f"{where}: action '{action}' needs parameter 'destination_base' (a folder)")
        entries = []
        for path, name in sorted(files):
            cat = self.classify(run, path, name, p["classification_strategy"], allowed)
            entry: dict[str, Any] = {"path": path, "name": name, "category": cat}
            if action != "report":
                target = f"{str(dest).rstrip('/')}/{cat}/{name}"
                entry["target"] = target
                if not dry:
                    gate.mkdir(f"{str(dest).rstrip('/')}/{cat}", parents=True, exist_ok=True)
                    gate.copy(path, target)
                    if action == "move":
                        gate.remove(path)
                    entry["done"] = True
            entries.append(entry)
        counts: dict[str, int] = {}
        for e in entries:
            counts[e["category"]] = counts.get(e["category"], 0) + 1
        run.metrics.custom.update({"files_scanned": len(entries), "categories": len(counts),
                                   "actions_executed": sum(1 for e in entries if e.get("done"))})
        if p["output_format"] == "json":
            run.result_type = "structured"
            return {"source_path": src, "action": action, "dry_run": dry, "counts": counts, "files": entries}
        md = p["output_format"] == "markdown"
        verb = {"report": "classified", "copy": "copy", "move": "move"}[action]
        lines = [("# " if md else "") + f"File classification of {src} ({len(entries)} files"
                 + (", dry run" if dry and action != "report" else "") + ")", ""]
        lines += [f"{'- ' if md else ''}{c}: {n}" for c, n in sorted(counts.items())]
        lines += [""] + [f"{'- ' if md else '  '}{e['name']} -> {e['category']}"
                         + (f" ({verb} to {e['target']})" if "target" in e else "") for e in entries]
        return "\n".join(lines) + "\n"
