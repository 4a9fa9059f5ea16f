"""Embedders: text -> L2-normalised float32 vectors.

* :class:`HashingEmbedder` (the default, ``[rag] embedder = "hashing"``): deterministic feature hashing
  of lowercased word unigrams and bigrams and character 3-grams, each feature hashed with CRC-32
  (stable across processes and machines, unlike Python's randomised ``hash()``) to a bucket and a
  sign. No model, no download; similar wording gives similar vectors, synonyms do not.
* :class:`WordLlamaEmbedder` (``"wordllama"``): the WordLlama static embedding model whose weights
  ship inside the ``wordllama`` wheel (``pip install 'llmspell-ls[embed]'``), loaded lazily, offline.
* :class:`ProviderEmbedder` (``"provider:<model>"``): a configured provider's embedding endpoint
  through litellm, with an explicit timeout.

:func:`get_embedder` picks one from the configuration and caches it per process.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import zlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from llmspell.core.errors import ConfigurationError, ProviderError

if TYPE_CHECKING:
    from llmspell.config import RuntimeConfig

_WORD = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens (``\\w+``): the one tokenisation of embedding, BM25 and chunk counts."""
    return _WORD.findall(text.lower())


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors: float32, shape ``(len(texts), dim)``, each row L2-normalised (a zero
    row for a text with nothing to embed)."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    if m.ndim == 1:
        m = m.reshape(1, -1)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(m / norms, dtype=np.float32)


class HashingEmbedder:
    """Signed feature hashing of word unigrams (weight 1), word bigrams (0.7) and character 3-grams of
    each word with boundary marks (0.3), term counts sublinear (``1 + log tf``).

    Deterministic: the same text gives the same vector in every process (CRC-32, not ``hash()``).
    Feature -> (bucket, sign) lookups are memoised per word and word pair, so embedding is fast on
    natural text whose vocabulary repeats.
    """

    UNIGRAM = 1.0
    BIGRAM = 0.7
    TRIGRAM = 0.3
    _CACHE_MAX = 500_000

    def __init__(self, dim: int = 384) -> None:
        if not isinstance(dim, int) or dim < 2:
            raise ValueError(f"HashingEmbedder: dim must be an integer >= 2, got {dim!r}")
        self.dim = dim
        self.name = "hashing"
        self._word_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._pair_cache: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _bucket(self, feature: str) -> tuple[int, float]:
        h = zlib.crc32(feature.encode("utf-8"))
        return h % self.dim, (1.0 if (h >> 31) & 1 == 0 else -1.0)

    def _word_features(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        hit = self._word_cache.get(word)
        if hit is not None:
            return hit
        idx: list[int] = []
        val: list[float] = []
        b, s = self._bucket("w:" + word)
        idx.append(b)
        val.append(s * self.UNIGRAM)
        marked = f"<{word}>"
        grams = [marked[i:i + 3] for i in range(len(marked) - 2)]
        for g in grams:
            b, s = self._bucket("c:" + g)
            idx.append(b)
            val.append(s * self.TRIGRAM)
        out = (np.asarray(idx, dtype=np.int64), np.asarray(val, dtype=np.float32))
        if len(self._word_cache) < self._CACHE_MAX:
            self._word_cache[word] = out
        return out

    def _pair_feature(self, a: str, b: str) -> tuple[int, float]:
        key = (a, b)
        hit = self._pair_cache.get(key)
        if hit is None:
            bucket, sign = self._bucket(f"b:{a} {b}")
            hit = (bucket, sign * self.BIGRAM)
            if len(self._pair_cache) < self._CACHE_MAX:
                self._pair_cache[key] = hit
        return hit

    def embed_one(self, text: str) -> np.ndarray:
        words = tokenize(text)
        if not words:
            return np.zeros(self.dim, dtype=np.float32)
        counts: dict[str, int] = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        idx_parts: list[np.ndarray] = []
        val_parts: list[np.ndarray] = []
        for w, c in counts.items():
            i, v = self._word_features(w)
            idx_parts.append(i)
            val_parts.append(v * np.float32(1.0 + np.log(c)))
        pidx: list[int] = []
        pval: list[float] = []
        for a, b in itertools.pairwise(words):
            i2, v2 = self._pair_feature(a, b)
            pidx.append(i2)
            pval.append(v2)
        if pidx:
            idx_parts.append(np.asarray(pidx, dtype=np.int64))
            val_parts.append(np.asarray(pval, dtype=np.float32))
        vec = np.bincount(np.concatenate(idx_parts), weights=np.concatenate(val_parts), minlength=self.dim)
        vec = vec.astype(np.float32)
        n = float(np.linalg.norm(vec))
        return vec / n if n > 0 else vec

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock:  # the memo dicts are shared
            for r, t in enumerate(texts):
                out[r] = self.embed_one(t)
        return out


class WordLlamaEmbedder:
    """The WordLlama model bundled in the ``wordllama`` wheel (static token embeddings, mean-pooled).

    Loaded on first use from the package's own folder with downloads disabled (its plain ``load()``
    looks for the tokenizer in the wrong folder and would try the network)."""

    INSTALL_HINT = "pip install 'llmspell-ls[embed]'"

    def __init__(self, dim: int = 256) -> None:
        self.name = "wordllama"
        self.dim = dim
        self._model: Any = None
        self._lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        try:
            import importlib.util

            return importlib.util.find_spec("wordllama") is not None
        except (ImportError, ValueError):
            return False

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from pathlib import Path

                    import wordllama
                except ImportError as e:
                    raise ConfigurationError(
                        "[rag] embedder = \"wordllama\" needs the optional wordllama package: "
                        f"{self.INSTALL_HINT}") from e
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                try:
                    model = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent,
                                                     disable_download=True, dim=self.dim)
                except Exception as e:  # a broken install: say what to do
                    raise ConfigurationError(
                        f"cannot load the bundled WordLlama model ({type(e).__name__}: {e}); reinstall "
                        f"it with {self.INSTALL_HINT}") from e
                self._model = model
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        rows = [i for i, t in enumerate(texts) if tokenize(t)]
        if rows:
            vecs = np.asarray(model.embed([texts[i] for i in rows], norm=True), dtype=np.float32)
            out[rows] = _normalise(vecs)
        return out


class ProviderEmbedder:
    """A provider's embedding model through litellm (``provider:openai/text-embedding-3-small``).

    The key is read from the provider's ``api_key_env`` (default ``<PROVIDER>_API_KEY``) and sent only
    to its configured ``base_url``; each request has the ``[rag] embed_timeout_s`` timeout and no
    silent retries. The vector size is learnt from the first answer."""

    def __init__(self, model: str, *, api_key: str | None = None, base_url: str | None = None,
                 timeout_s: float = 30.0, dim: int = 0) -> None:
        self.model = model
        self.name = f"provider:{model}"
        self.dim = dim
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout_s

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from llmspell.providers.litellm_provider import _import_litellm, map_exception

        litellm = _import_litellm()
        rows = [i for i, t in enumerate(texts) if t.strip()]
        kwargs: dict[str, Any] = {"model": self.model, "input": [texts[i] for i in rows],
                                  "timeout": self._timeout, "num_retries": 0}
        if self._api_key:
            kwargs["api_key"] = self._api_key
        if self._base_url:
            kwargs["api_base"] = self._base_url
        vecs: list[list[float]] = []
        if rows:
            try:
                resp = litellm.embedding(**kwargs)
            except Exception as e:
                raise map_exception(e, self.model) from e
            data = resp["data"] if isinstance(resp, dict) else resp.data
            for item in sorted(data, key=lambda d: d["index"] if isinstance(d, dict) else d.index):
                vecs.append(list(item["embedding"] if isinstance(item, dict) else item.embedding))
            if len(vecs) != len(rows):
                raise ProviderError(f"{self.model}: asked for {len(rows)} embeddings, got {len(vecs)}")
            if not self.dim:
                self.dim = len(vecs[0])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if rows:
            out[rows] = _normalise(np.asarray(vecs, dtype=np.float32))
        return out


_cache: dict[tuple[Any, ...], Embedder] = {}
_cache_lock = threading.Lock()


def _provider_embedder(config: RuntimeConfig, model: str) -> ProviderEmbedder:
    provider = model.split("/", 1)[0] if "/" in model else "openai"
    settings = config.providers.get(provider)
    if settings is None:
        raise ConfigurationError(
            f"[rag] embedder = \"provider:{model}\" needs the provider configured: add a "
            f"[providers.{provider}] table to llmspell.toml (with api_key_env and, if needed, base_url)")
    env = settings.api_key_env or f"{provider.upper()}_API_KEY"
    key = os.environ.get(env)
    if not key and provider not in ("ollama", "local"):
        raise ConfigurationError(f"[rag] embedder = \"provider:{model}\": the environment variable {env} "
                                 f"holding the {provider} key is not set")
    return ProviderEmbedder(model, api_key=key, base_url=settings.base_url,
                            timeout_s=config.rag.embed_timeout_s)


def get_embedder(config: RuntimeConfig) -> Embedder:
    """The embedder ``[rag] embedder`` names (``hashing`` by default), one instance per process and
    setting."""
    spec = config.rag.embedder
    key: tuple[Any, ...] = (spec, config.rag.dimensions) if spec == "hashing" else (spec,)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            return hit
        emb: Embedder
        if spec == "hashing":
            emb = HashingEmbedder(config.rag.dimensions)
        elif spec == "wordllama":
            if not WordLlamaEmbedder.available():
                raise ConfigurationError("[rag] embedder = \"wordllama\" needs the optional wordllama package: "
                                         f"{WordLlamaEmbedder.INSTALL_HINT}")
            emb = WordLlamaEmbedder()
        elif spec.startswith("provider:"):
            emb = _provider_embedder(config, spec[len("provider:"):])
        else:  # the config validator admits nothing else
            raise ConfigurationError(f"[rag] embedder: unknown embedder {spec!r}")
        _cache[key] = emb
        return emb
