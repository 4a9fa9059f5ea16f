"""Deterministic, offline entity extraction for ``Memory.consolidate``.

Three kinds of knowledge are taken from an episodic entry's text (and its metadata):

* ``fact``: ``key: value`` (or ``key = value``) statements, one per line or clause, e.g.
  ``favorite language: Rust``; the entity is named by the key and its ``value`` property is the value
  (a later fact with the same key updates it);
* ``entity``: capitalised phrases (``Rust``, ``New York``, ``Memory Safety``), except words that are
  capitalised only because they start a sentence: stopwords and common sentence openers (``The``,
  ``What``, ``Explain``), and lone opening words that read as gerunds, adverbs or past tenses
  (``Learning``, ``Actually``) unless already known as entities; acronyms and CamelCase words always
  count (``API``, ``JavaScript``);
* ``concept``: lower-case content words of four or more letters that are not stopwords; the caller
  keeps them only once they occur often enough (``[memory] keyword_min_mentions``);
* ``topic``: the string values of ``topic``/``topics``/``tags``/``category`` metadata keys.

Everything here is pure functions over strings, so the same entries always give the same entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can cannot could did do does doing don't down during each few for from
    further had has have having he her here hers herself him himself his how however i if in into is isn't
    it it's its itself just let let's me more most my myself no nor not now of off on once only or other
    ought our ours ourselves out over own same she should so some such than that that's the their theirs
    them themselves then there there's these they this those through to too under until up very was we
    were what what's when where which while who whom why will with would you your yours yourself
    yourselves yes ok okay please thanks thank hello hi hey sure well really maybe like get got make made
    want need know think tell said says say use used using uses one two also even still much many
    something anything everything nothing thing things way ways lot lots good great nice new first last
    next best better right left back here there today tomorrow yesterday can't won't didn't doesn't
    shall may might must could would should http https www com org",
    """.replace('"', "").replace(",", "").split()
)
"""Words never taken as entities or concepts (compared lower-cased)."""

_SENTENCE_END = re.compile(r"[.!?]\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'+#-]*[A-Za-z0-9+#]|[A-Za-z]")
_FACT = re.compile(
    r"(?:^|[\n;]|(?<=[.!?])\s)\s*(?:[-*•]\s*)?"
    r"(?P<key>[A-Za-z][A-Za-z0-9 _'-]{0,40}?)\s*(?::|=)\s+"
    r"(?P<value>[^\n;]{1,200}?)\s*(?=$|[\n;]|[.!?](?:\s|$))"
)
_TOPIC_KEYS = ("topic", "topics", "tags", "tag", "category", "categories", "subject")
_MAX_NAME = 80


def normalise(name: str) -> str:
    """The identity of an entity: lower-case, single spaces (``"New  York"`` = ``"new york"``)."""
    return " ".join(name.lower().split())


@dataclass
class Mention:
    """One entity found in one entry."""

    name: str
    entity_type: str
    properties: dict[str, Any] = field(default_factory=dict)
    context: str = ""
    """The sentence (or fact line) it was found in, shortened."""

    @property
    def key(self) -> str:
        return f"{self.entity_type}:{normalise(self.name)}"


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _short(s: str, n: int = 200) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def facts(text: str) -> list[Mention]:
    """``key: value`` statements (keys of at most five words, not URLs or times)."""
    out: list[Mention] = []
    for m in _FACT.finditer(text):
        key = " ".join(m.group("key").split())
        value = m.group("value").strip().rstrip(",")
        if not key or not value or len(key.split()) > 5:
            continue
        if value.startswith("//") or key.lower() in ("http", "https") or key.isdigit():
            continue
        if normalise(key) in STOPWORDS:
            continue
        out.append(Mention(key, "fact", {"value": value}, _short(m.group(0).strip())))
    return out


SENTENCE_STARTERS = frozenset(
    """explain tell show describe please thanks thank let give write create make list help find consider note
    remember sure great okay yes no here there this that these those now then first second third finally
    however therefore today also actually basically generally usually sometimes remember summarize compare
    define provide suggest check try run use add remove update start stop keep look imagine assume suppose
    good nice cool perfect interesting absolutely exactly indeed great awesome hmm ah oh well so and but or
    next last another every each both either neither some many most few several all any other such what
    which who whom whose why how when where welcome hello hi hey dear""".split()
)
"""Words that are capitalised only because they open a sentence (compared lower-cased)."""


def _looks_like_name(w: str) -> bool:
    """Acronyms, CamelCase and words with digits look like names wherever they stand."""
    return (w.isupper() and len(w) > 1) or any(c.isupper() for c in w[1:]) or any(c.isdigit() for c in w)


def _phrase(run: list[str], at_start: bool, known: frozenset[str]) -> str | None:
    """The name a run of capitalised words stands for, or None."""
    phrase = list(run)
    # a sentence-initial common word is not a name: "The Rust compiler" -> "Rust"
    first = normalise(phrase[0])
    if at_start and (first in STOPWORDS or first in SENTENCE_STARTERS or (
            len(phrase) > 1 and first not in known and not _looks_like_name(phrase[0])
            and first.endswith(("ing", "ly", "ed")))):
        phrase = phrase[1:]
    while phrase and normalise(phrase[-1]) in STOPWORDS:
        phrase = phrase[:-1]
    if not phrase:
        return None
    if at_start and len(phrase) == 1 and len(run) == 1:
        w = phrase[0]
        lw = normalise(w)
        # a lone capitalised word opening a sentence: a name unless it reads like an ordinary
        # word there (gerund, adverb, past tense), except names already known or name-shaped
        if lw not in known and not _looks_like_name(w) and lw.endswith(("ing", "ly", "ed", "'s")):
            return None
    name = " ".join(phrase)
    return name if 1 < len(name) <= _MAX_NAME else None


def capitalised_phrases(text: str, known: frozenset[str] = frozenset()) -> list[Mention]:
    """Runs of capitalised words, one mention per distinct phrase (the first sentence it is in).

    ``known``: normalised names already known as entities (they count at a sentence start too).
    """
    out: list[Mention] = []
    seen: set[str] = set()
    for sentence in _sentences(text):
        runs: list[tuple[list[str], bool]] = []
        run: list[str] = []
        run_start = -1
        for i, m in enumerate(_WORD.finditer(sentence)):
            w = m.group(0)
            if _is_capitalised(w):
                if not run:
                    run_start = i
                run.append(w)
            elif run:
                runs.append((run, run_start == 0))
                run = []
        if run:
            runs.append((run, run_start == 0))
        for words, at_start in runs:
            name = _phrase(words, at_start, known)
            if name is None:
                continue
            mn = Mention(name, "entity", {}, _short(sentence))
            if mn.key not in seen:
                seen.add(mn.key)
                out.append(mn)
    return out


def keywords(text: str) -> dict[str, int]:
    """Lower-case content words (four letters or more, not stopwords) and how often they occur."""
    counts: dict[str, int] = {}
    for m in _WORD.finditer(text):
        w = m.group(0)
        if not w.islower() or len(w) < 4:
            continue
        w = w.strip("'-")
        if w in STOPWORDS or len(w) < 4:
            continue
        counts[w] = counts.get(w, 0) + 1
    return counts


def metadata_topics(metadata: Any) -> list[Mention]:
    """``topic``/``tags``/``category`` metadata values (strings or lists of strings)."""
    if not isinstance(metadata, dict):
        return []
    out: list[Mention] = []
    for k in _TOPIC_KEYS:
        v = metadata.get(k)
        values = [v] if isinstance(v, str) else [x for x in v if isinstance(x, str)] if isinstance(v, list) else []
        for s in values:
            s = " ".join(s.split())
            if s and len(s) <= _MAX_NAME:
                out.append(Mention(s, "topic", {}, f"{k}: {s}"))
    return out


def extract(text: str, metadata: Any = None, known: frozenset[str] = frozenset()
            ) -> tuple[list[Mention], dict[str, int]]:
    """Mentions (facts, capitalised names, metadata topics) and keyword counts of one entry.

    Words that are part of a fact key or a name are not counted again as keywords.
    """
    found = facts(text) + capitalised_phrases(text, known) + metadata_topics(metadata)
    seen: set[str] = set()
    mentions: list[Mention] = []
    for mn in found:
        if mn.key not in seen:
            seen.add(mn.key)
            mentions.append(mn)
    kw = keywords(text)
    named = {w for mn in mentions for w in normalise(mn.name).split()}
    return mentions, {w: n for w, n in kw.items() if w not in named}
