"""rs-llmspell's ten built-in templates."""

from __future__ import annotations

from llmspell.templates.base import Template
from llmspell.templates.builtin.chat import InteractiveChat
from llmspell.templates.builtin.code import CodeGenerator, CodeReview
from llmspell.templates.builtin.data import DataAnalysis, FileClassification
from llmspell.templates.builtin.documents import ContentGeneration, DocumentProcessor
from llmspell.templates.builtin.orchestrator import WorkflowOrchestrator
from llmspell.templates.builtin.research import KnowledgeManagement, ResearchAssistant

BUILTIN: tuple[type[Template], ...] = (
    ResearchAssistant, InteractiveChat, DataAnalysis, CodeGenerator, DocumentProcessor, WorkflowOrchestrator,
    CodeReview, ContentGeneration, FileClassification, KnowledgeManagement,
)
