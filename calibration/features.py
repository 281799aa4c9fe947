"""Surface features of a text that a judge should not reward by themselves: length, formality, hedging."""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.\-][A-Za-z0-9]+)*")

HEDGE_WORDS: tuple[str, ...] = (
    "may", "might", "could", "should", "possibly", "perhaps", "maybe", "probably", "likely", "unlikely",
    "apparently", "seems", "seem", "appears", "appear", "suggests", "suggest", "generally", "typically", "usually",
    "somewhat", "roughly", "approximately", "in most cases", "in some cases", "as far as we can tell",
    "we believe", "we think", "i think", "we expect", "to some extent", "tend to", "tends to", "not necessarily",
)
"""Hedge words and phrases counted by :func:`hedging` (whole words, case-insensitive)."""

CASUAL_MARKERS: tuple[str, ...] = (
    "gonna", "wanna", "kinda", "folks", "awesome", "cool", "super", "totally", "stuff", "hey", "heads up",
    "heads-up", "fyi", "asap", "btw", "yay", "oops", "whoops", "a bunch of", "a lot of", "tons of", "check out",
    "grab", "huge", "okay", "ok", "info", "docs", "just", "pretty", "really", "get", "got", "thanks",
)
"""Casual words and phrases counted by :func:`formality`; contractions, "!" and emoji count as casual too."""

FORMAL_MARKERS: tuple[str, ...] = (
    "please note", "therefore", "furthermore", "moreover", "however", "consequently", "accordingly",
    "additionally", "thus", "hence", "regarding", "prior to", "subsequently", "approximately", "in accordance with",
    "ensure", "receive", "utilize", "require", "requires", "required", "previously", "will not", "cannot",
    "do not", "does not", "did not", "is not", "are not", "we are pleased", "thank you",
    "we wish to inform", "be advised", "hereby", "shall", "with effect from", "pursuant to", "kindly",
    "it has been decided", "should you",
)
"""Formal words and phrases counted by :func:`formality` (uncontracted negations are the formal forms)."""

_CONTRACTION = re.compile(r"\b(?:[A-Za-z]+(?:n['’]t|['’](?:re|ve|ll|d|m))|(?:it|that|there|here|what|who|he|she|let)"
                          r"['’]s)\b", re.IGNORECASE)  # "'s" only after pronouns: "device's" is a possessive
_CAPS_CASUAL = frozenset({"FYI", "ASAP", "BTW", "OK"})  # other ALL-CAPS matches are codes or methods (GET), not words
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_EXCLAIM = re.compile(r"!")


def _phrase_rx(phrases: Sequence[str]) -> re.Pattern:
    alts = sorted((re.escape(p).replace(r"\ ", r"\s+") for p in phrases), key=len, reverse=True)
    return re.compile(r"(?<![\w'’-])(?:" + "|".join(alts) + r")(?![\w'’-])", re.IGNORECASE)


_HEDGE_RX = _phrase_rx(HEDGE_WORDS)
_CASUAL_RX = _phrase_rx(CASUAL_MARKERS)
_FORMAL_RX = _phrase_rx(FORMAL_MARKERS)


def word_count(text: str) -> int:
    """Number of word tokens (letters/digits with inner apostrophes, dots or hyphens)."""
    return len(_WORD.findall(text))


def hedging(text: str) -> float:
    """Hedges per 100 words: occurrences of :data:`HEDGE_WORDS` (longest phrase first, no overlaps). 0 if empty."""
    n = word_count(text)
    return 100.0 * len(_HEDGE_RX.findall(text)) / n if n else 0.0


def formality(text: str) -> float:
    """Net formal markers per 100 words: ``100 * (formal - casual) / words``; positive = formal, 0 if empty.

    ``formal`` counts :data:`FORMAL_MARKERS` (e.g. "therefore", "ensure", "do not"); ``casual`` counts
    :data:`CASUAL_MARKERS` (e.g. "a lot of", "get", "awesome"; ALL-CAPS matches such as the HTTP method GET are
    not words and are skipped, except FYI/ASAP/BTW/OK), contractions ("we've", "don't", "it's"; not possessives),
    exclamation marks and emoji. A crude, transparent register measure: good enough to ask whether a judge's errors follow
    register, not a linguistic analysis.
    """
    n = word_count(text)
    if not n:
        return 0.0
    casual_words = [m for m in _CASUAL_RX.findall(text) if not (m.isupper() and len(m) > 1) or m in _CAPS_CASUAL]
    casual = (len(casual_words) + len(_CONTRACTION.findall(text)) + len(_EXCLAIM.findall(text))
              + len(_EMOJI.findall(text)))
    formal = len(_FORMAL_RX.findall(text))
    return 100.0 * (formal - casual) / n


FEATURES: dict[str, Callable[[str], float]] = {
    "length": lambda t: float(word_count(t)),
    "formality": formality,
    "hedging": hedging,
}
