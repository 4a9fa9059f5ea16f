"""The builtin tool manifest: tool name -> ``"module:Class"``.

Modules are imported only when a tool is first looked up (``ToolRegistry.get``) or when the whole
catalogue is listed, so creating a runtime stays cheap however many tools there are. Tool modules
must import heavy libraries lazily (inside ``run``), never at module level.

To add a tool: write the class (see :mod:`llmspell.tools.base`) and add one line here.
"""

from __future__ import annotations

BUILTIN_TOOLS: dict[str, str] = {
    "file-operations": "llmspell.tools.builtin.file_operations:FileOperationsTool",
    "uuid-generator": "llmspell.tools.builtin.uuid_generator:UuidGeneratorTool",
    "hash-calculator": "llmspell.tools.builtin.hash_calculator:HashCalculatorTool",
    "base64-encoder": "llmspell.tools.builtin.base64_encoder:Base64EncoderTool",
    "calculator": "llmspell.tools.builtin.calculator:CalculatorTool",
    "text-manipulator": "llmspell.tools.builtin.text_manipulator:TextManipulatorTool",
    "datetime-handler": "llmspell.tools.builtin.datetime_handler:DateTimeHandlerTool",
    # catalogue tools (issue 5): one module per category group, classes imported lazily
    "file-search": "llmspell.tools.builtin.fs_files:FileSearchTool",
    "file-watcher": "llmspell.tools.builtin.fs_files:FileWatcherTool",
    "file-converter": "llmspell.tools.builtin.fs_files:FileConverterTool",
    "archive-handler": "llmspell.tools.builtin.fs_archive:ArchiveHandlerTool",
    "backup-manager": "llmspell.tools.builtin.fs_archive:BackupManagerTool",
    "template-creator": "llmspell.tools.builtin.data_text:TemplateCreatorTool",
    "data-validator": "llmspell.tools.builtin.data_text:DataValidatorTool",
    "diff-calculator": "llmspell.tools.builtin.data_text:DiffCalculatorTool",
    "citation-formatter": "llmspell.tools.builtin.data_text:CitationFormatterTool",
    "json-processor": "llmspell.tools.builtin.data_formats:JsonProcessorTool",
    "csv-analyzer": "llmspell.tools.builtin.data_formats:CsvAnalyzerTool",
    "xml-processor": "llmspell.tools.builtin.data_formats:XmlProcessorTool",
    "yaml-processor": "llmspell.tools.builtin.data_formats:YamlProcessorTool",
    "parquet-processor": "llmspell.tools.builtin.data_formats:ParquetProcessorTool",
    "excel-processor": "llmspell.tools.builtin.data_formats:ExcelProcessorTool",
    "graph-builder": "llmspell.tools.builtin.data_graph:GraphBuilderTool",
    "database-connector": "llmspell.tools.builtin.data_sql:DatabaseConnectorTool",
    "sql-query": "llmspell.tools.builtin.data_sql:SqlQueryTool",
    "pdf-processor": "llmspell.tools.builtin.media_files:PdfProcessorTool",
    "image-processor": "llmspell.tools.builtin.media_files:ImageProcessorTool",
    "audio-processor": "llmspell.tools.builtin.media_files:AudioProcessorTool",
    "video-processor": "llmspell.tools.builtin.media_files:VideoProcessorTool",
    "process-executor": "llmspell.tools.builtin.system_tools:ProcessExecutorTool",
    "environment-reader": "llmspell.tools.builtin.system_tools:EnvironmentReaderTool",
    "system-monitor": "llmspell.tools.builtin.system_tools:SystemMonitorTool",
    "service-checker": "llmspell.tools.builtin.system_tools:ServiceCheckerTool",
    "http-requester": "llmspell.tools.builtin.web_http:HttpRequesterTool",
    "api-tester": "llmspell.tools.builtin.web_http:ApiTesterTool",
    "webhook-caller": "llmspell.tools.builtin.web_http:WebhookCallerTool",
    "graphql-query": "llmspell.tools.builtin.web_http:GraphQLQueryTool",
    "web-scraper": "llmspell.tools.builtin.web_pages:WebScraperTool",
    "webpage-monitor": "llmspell.tools.builtin.web_pages:WebpageMonitorTool",
    "sitemap-crawler": "llmspell.tools.builtin.web_pages:SitemapCrawlerTool",
    "url-analyzer": "llmspell.tools.builtin.web_pages:UrlAnalyzerTool",
    "feed-reader": "llmspell.tools.builtin.web_pages:FeedReaderTool",
    "web-searcher": "llmspell.tools.builtin.web_search:WebSearcherTool",
    "email-sender": "llmspell.tools.builtin.comm_email:EmailSenderTool",
    "slack-sender": "llmspell.tools.builtin.comm_chat:SlackSenderTool",
    "discord-sender": "llmspell.tools.builtin.comm_chat:DiscordSenderTool",
    "telegram-sender": "llmspell.tools.builtin.comm_chat:TelegramSenderTool",
    "sms-sender": "llmspell.tools.builtin.comm_chat:SmsSenderTool",
    "sentiment-analyzer": "llmspell.tools.builtin.ai_llm:SentimentAnalyzerTool",
    "text-translator": "llmspell.tools.builtin.ai_llm:TextTranslatorTool",
    "image-describer": "llmspell.tools.builtin.ai_llm:ImageDescriberTool",
    "speech-transcriber": "llmspell.tools.builtin.ai_llm:SpeechTranscriberTool",
    "text-embedder": "llmspell.tools.builtin.ai_embeddings:TextEmbedderTool",
    "vector-search": "llmspell.tools.builtin.ai_embeddings:VectorSearchTool",
}
