"""Which language a text is written in, by py3langid restricted to widely written languages.

Unrestricted, py3langid reads a few short English questions as Nigerian Pidgin or Javanese and
Chinese ones as Wu; among these languages it named 631 of XQuAD's 632 English questions English
and all of its Chinese, Spanish, German and Vietnamese ones right (docs/quality.md).
"""

from __future__ import annotations

import threading
from typing import Any

ENGLISH = "en"
# ISO 639-1 codes the detector chooses among.
LANGUAGES = (
    "en zh es de fr ru ar vi pt it ja ko nl hi tr pl id sv uk el he fa th cs ro hu da fi no bn "
    "ur ms sw"
).split()
# Below this probability a text in ASCII letters is read as English (staff keyword queries).
MIN_CONFIDENCE = 0.5
# Characters read from a document: its language shows long before its end.
DOCUMENT_SAMPLE = 4000

_identifier: Any = None
_lock = threading.Lock()


def _loaded() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(LANGUAGES)
            _identifier = identifier
        return _identifier


def detect_language(text: str) -> str:
    """The ISO 639-1 code of text's language ("en" for text without letters)."""
    sample = text[:DOCUMENT_SAMPLE]
    if not any(ch.isalpha() for ch in sample):
        return ENGLISH
    language, confidence = _loaded().classify(sample)
    if confidence < MIN_CONFIDENCE and all(ch.isascii() for ch in sample if ch.isalpha()):
        # A keyword in Latin letters is any language's to py3langid ("mpox": Italian at 0.15,
        # "interpol": Arabic at 0.03); read it as the English it most often is.
        return ENGLISH
    return str(language)
