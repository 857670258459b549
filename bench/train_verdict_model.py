"""Train the fact checker's verdict model (qa/data/verdict_model.npz) and choose its thresholds.

    python bench/train_verdict_model.py                        # pairs from the cited abstracts
    python bench/train_verdict_model.py --index-dir /work/ev/scifact \
        --vectors /tmp/vectors.npz --examined /tmp/examined.npz

SciFact train claims are split by id (`qa.check_eval.split_of`): ids 0 mod 4 train the model,
ids 2 mod 4 tune the thresholds, odd ids are held out for the report. Training pairs (claim,
evidence sentence, verdict):
- SciFact claims with ids 0 mod 4: each sentence of their cited abstracts (a rationale
  sentence takes the claim's label, the others are not_found); with --index-dir also the
  sentences the checker examines for them on the whole corpus (labelled the same way);
- pairs generated from the collection's own sentences (SciFact abstracts, the seed statement,
  and UN speeches other than the 10 of bench/data/un_claims.jsonl): word swaps with antonyms and
  contrasting forms, negations, number and name substitutions, role reversals -> contradicted;
  clause deletions, reorderings, synonym replacements -> supported; a close sentence of another
  document, or the sentence with a content word replaced by an absent one -> not_found.

The model is scikit-learn's multinomial logistic regression over `qa.verdict_model` features;
only its arrays are saved. With --index-dir the thresholds of CheckConfig are then searched on
the claims with ids 2 mod 4 (precision of "supported" at least 0.80 first, then accuracy) and
the odd-id claims are reported with them and with the shipped ones; the chosen values are
printed to copy into CheckConfig. --examined caches the sentences retrieved for each claim
(texts, offsets, scores, vectors), so a change of the lexical signals is re-measured in a minute.
The random seed is fixed, so a run reproduces the file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import ROOT, SHARED

from index.chunking import split_sentences
from index.text import tokenize
from qa.answer import SentenceCandidate
from qa.check import VERDICTS, CheckConfig, EvidenceSignals, signals
from qa.check_eval import _overlaps, split_of, splits
from qa.contrast import POLARITY_AND_ANTONYM_WORDS, document_subjects
from qa.verdict_model import MODEL_PATH, VerdictModel, pair_features

LABEL = {"SUPPORT": "supported", "CONTRADICT": "contradicted"}
SYNONYMS = {
    "help": "assist", "important": "significant", "increase": "rise", "increased": "raised",
    "reduce": "lower", "reduced": "lowered", "big": "large", "large": "big", "show": "indicate",
    "shows": "indicates", "showed": "indicated", "use": "employ", "used": "employed",
    "strengthen": "reinforce", "maintain": "preserve", "cooperation": "collaboration",
    "fight": "combat", "threat": "danger", "countries": "nations", "country": "nation",
    "actively": "energetically", "jointly": "together", "effectively": "efficiently",
    "support": "back", "supports": "backs", "must": "has to", "should": "ought to",
    "patients": "people", "associated": "linked", "risk": "likelihood", "cause": "lead to",
    "causes": "leads to", "high": "elevated", "rapid": "fast", "global": "worldwide",
    "problem": "issue", "problems": "issues", "children": "kids", "begin": "start",
    "continue": "keep", "need": "require", "needs": "requires", "role": "part",
}  # fmt: skip
AUXILIARIES = ("is", "are", "was", "were", "has", "have", "can", "will", "should", "must", "did")


def sentences_of(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def idf_table(documents: list[str]) -> dict[str, float]:
    """BM25-form IDF over the documents (the index computes it over chunks: close enough)."""
    df: Counter[str] = Counter()
    for text in documents:
        df.update(set(tokenize(text)))
    n = len(documents)
    return {t: float(np.log(1.0 + (n - c + 0.5) / (c + 0.5))) for t, c in df.items()}


class IdfTable:
    """What `signals` reads of an index snapshot: the IDF of a term."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def idf(self, term: str) -> float:
        return self.table.get(term, 8.0)


class Generator:
    """Claims made from a sentence by one edit each, with the verdict the edit implies."""

    def __init__(self, rng: random.Random, names: list[str], vocabulary: list[str]) -> None:
        self.rng = rng
        self.names = names
        self.vocabulary = vocabulary
        self.opposites = POLARITY_AND_ANTONYM_WORDS

    def pairs(self, sentence: str) -> list[tuple[str, str]]:
        words = sentence.split()
        out: list[tuple[str, str]] = []
        for edit in (
            self.identity, self.prefix, self.delete_clause, self.reorder, self.synonym,
            self.antonym, self.negate, self.number, self.name, self.form, self.reverse_roles,
            self.absent_word,
        ):  # fmt: skip
            made = edit(words)
            if made and made[0] != sentence:
                out.append(made)
        return out

    def identity(self, words: list[str]) -> tuple[str, str] | None:
        # Not the sentence itself (pairs() skips those): the same words, end mark changed.
        return " ".join(words).rstrip(".") + " .", "supported"

    def prefix(self, words: list[str]) -> tuple[str, str] | None:
        if len(words) < 10:
            return None
        cut = self.rng.randint(len(words) // 2, len(words) - 2)
        return " ".join(words[:cut]).rstrip(",;:") + ".", "supported"

    def delete_clause(self, words: list[str]) -> tuple[str, str] | None:
        text = " ".join(words)
        clauses = [c.strip() for c in re.split(r",|;", text) if len(c.split()) >= 5]
        if len(clauses) < 2:
            return None
        keep = self.rng.choice(clauses).rstrip(".")
        return keep[0].upper() + keep[1:] + ".", "supported"

    def reorder(self, words: list[str]) -> tuple[str, str] | None:
        text = " ".join(words).rstrip(".")
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if len(parts) < 2:
            return None
        parts = [*parts[1:], parts[0]]
        joined = ", ".join(parts)
        return joined[0].upper() + joined[1:] + ".", "supported"

    def synonym(self, words: list[str]) -> tuple[str, str] | None:
        spots = [i for i, w in enumerate(words) if w.lower().strip(".,") in SYNONYMS]
        if not spots:
            return None
        i = self.rng.choice(spots)
        out = list(words)
        out[i] = SYNONYMS[words[i].lower().strip(".,")] + words[i][len(words[i].rstrip(".,")) :]
        return " ".join(out), "supported"

    def antonym(self, words: list[str]) -> tuple[str, str] | None:
        spots = [i for i, w in enumerate(words) if w.lower().strip(".,") in self.opposites]
        if not spots:
            return None
        i = self.rng.choice(spots)
        bare = words[i].lower().strip(".,")
        out = list(words)
        out[i] = self.rng.choice(self.opposites[bare]) + words[i][len(words[i].rstrip(".,")) :]
        return " ".join(out), "contradicted"

    def negate(self, words: list[str]) -> tuple[str, str] | None:
        for i, w in enumerate(words):
            if w.lower() in AUXILIARIES and i + 1 < len(words) and words[i + 1].lower() != "not":
                return " ".join([*words[: i + 1], "not", *words[i + 1 :]]), "contradicted"
        return None

    def number(self, words: list[str]) -> tuple[str, str] | None:
        spots = [i for i, w in enumerate(words) if re.fullmatch(r"\d+(\.\d+)?%?[.,]?", w)]
        if not spots:
            return None
        i = self.rng.choice(spots)
        value = re.match(r"\d+(\.\d+)?", words[i])
        assert value
        raw = value.group(0)
        new = str(int(float(raw)) + self.rng.choice([1, 2, 3, 5, 10]) * self.rng.choice([1, 2]))
        out = list(words)
        out[i] = words[i].replace(raw, new, 1)
        return " ".join(out), "contradicted"

    def _name_spots(self, words: list[str]) -> list[int]:
        return [
            i
            for i, w in enumerate(words)
            if i > 0 and w[:1].isupper() and w.strip(".,").isalpha() and len(w) > 2
        ]

    def name(self, words: list[str]) -> tuple[str, str] | None:
        spots = self._name_spots(words)
        if not spots or not self.names:
            return None
        i = self.rng.choice(spots)
        present = {w.strip(".,") for w in words}
        choices = [n for n in self.names if n not in present]
        out = list(words)
        out[i] = self.rng.choice(choices) + words[i][len(words[i].rstrip(".,")) :]
        return " ".join(out), "contradicted"

    def form(self, words: list[str]) -> tuple[str, str] | None:
        for i, w in enumerate(words):
            bare = w.lower().strip(".,")
            for a, b in (("multi", "uni"), ("uni", "multi"), ("il", ""), ("un", ""), ("non", "")):
                if bare.startswith(a) and len(bare) - len(a) >= 5 and (a or b):
                    out = list(words)
                    out[i] = b + w[len(a) :]
                    return " ".join(out), "contradicted"
            if bare.endswith("ing") and len(bare) > 6 and i + 1 < len(words):
                out = list(words)
                out[i] = w[: w.lower().index("ing", len(bare) - 3)] + "ed"
                return " ".join(out), "contradicted"
        return None

    def reverse_roles(self, words: list[str]) -> tuple[str, str] | None:
        spots = self._name_spots(words)
        distinct = {words[i].strip(".,") for i in spots}
        if len(distinct) < 2:
            return None
        i, j = (
            spots[0],
            next(k for k in spots if words[k].strip(".,") != words[spots[0]].strip(".,")),
        )
        out = list(words)
        a, b = words[i].strip(".,"), words[j].strip(".,")
        out[i], out[j] = words[i].replace(a, b), words[j].replace(b, a)
        return " ".join(out), "contradicted"

    def absent_word(self, words: list[str]) -> tuple[str, str] | None:
        spots = [i for i, w in enumerate(words) if len(w) > 5 and w.isalpha() and w.islower()]
        if not spots:
            return None
        i = self.rng.choice(spots)
        out = list(words)
        out[i] = self.rng.choice(self.vocabulary)
        return " ".join(out), "not_found"


def pair_rows(
    idf: dict[str, float],
    claims: list[str],
    evidence: list[str],
    claim_vectors: np.ndarray,
    evidence_vectors: np.ndarray,
    documents: list[str | None],
) -> tuple[np.ndarray, list[EvidenceSignals]]:
    """Features (the checker's own) of each (claim, evidence sentence) pair."""
    rows, found = [], []
    doc_terms: dict[str, set[str]] = {}
    doc_subjects: dict[str, set[str]] = {}
    for claim, text, u, v, document in zip(
        claims, evidence, claim_vectors, evidence_vectors, documents, strict=True
    ):
        candidate = SentenceCandidate("d", 0, len(text), text, float(u @ v), 0.0, 0.0, 0.0, v)
        terms = subjects = None
        if document is not None:
            if document not in doc_terms:
                doc_terms[document] = set(tokenize(document))
                doc_subjects[document] = document_subjects("", document)
            terms, subjects = doc_terms[document], doc_subjects[document]
        s = signals(IdfTable(idf), claim, candidate, terms, None, subjects)  # type: ignore[arg-type]
        lexical = np.array([s.lexical(len(set(tokenize(claim))))], np.float32)
        rows.append(pair_features(lexical, u, v[None, :])[0])
        found.append(s)
    return np.vstack(rows), found


def cached_vectors(embedder, texts: list[str], cache: Path | None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Unit vectors of texts, reusing those in the cache file (an .npz of texts and vectors)."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            known = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
    missing = [t for t in texts if t not in known]
    print(f"embedding {len(missing)} of {len(texts)} texts ...", flush=True)
    if missing:
        known.update(zip(missing, embedder.embed_batch(missing), strict=True))
        if cache is not None:
            np.savez(cache, texts=np.array(list(known)), vectors=np.vstack(list(known.values())))
    return np.vstack([known[t] for t in texts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", type=Path, default=SHARED / "eval" / "scifact")
    parser.add_argument(
        "--un", type=Path, default=SHARED / "corpora" / "ungdc-session79-2024.jsonl"
    )
    parser.add_argument("--index-dir", type=Path, help="SciFact index: examine claims on it")
    parser.add_argument("--vectors", type=Path, help="cache of text vectors (.npz) to reuse")
    parser.add_argument("--examined", type=Path, help="cache of retrieved sentences (.npz)")
    parser.add_argument("--sentences", type=int, default=700, help="collection sentences to edit")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--c", type=float, default=0.05, help="inverse regularisation")
    args = parser.parse_args()
    rng = random.Random(17)
    t0 = time.perf_counter()

    from api.settings import Settings
    from api.wiring import load_embedder

    embedder = load_embedder(Settings())
    corpus = {}
    with (args.scifact / "corpus.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            corpus[str(r["_id"])] = (r["title"], r["sentences"])
    idf = idf_table([" ".join(s) for _, s in corpus.values()])

    claims_x: list[str] = []
    evidence_x: list[str] = []
    docs_x: list[str | None] = []
    labels: list[str] = []

    # SciFact: the training claims against every sentence of their cited abstracts.
    golds = [json.loads(line) for line in (args.scifact / "claims_with_rationales.jsonl").open()]
    for g in golds:
        if split_of(str(g["id"])) != "train":
            continue
        rationale = {
            (str(e["doc_id"]), i): LABEL[e["label"]] for e in g["evidence"] for i in e["sentences"]
        }
        for doc_id in g.get("cited", []):
            if str(doc_id) not in corpus:
                continue
            title, sents = corpus[str(doc_id)]
            document = title + "\n" + " ".join(sents)
            for i, sentence in enumerate(sents):
                claims_x.append(g["claim"])
                evidence_x.append(sentence)
                docs_x.append(document)
                labels.append(rationale.get((str(doc_id), i), "not_found"))
    print(f"scifact pairs: {len(labels)} {Counter(labels)}")

    # The collection's own sentences, edited.
    seed_text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*")))
    reporting = set()
    report_file = ROOT / "bench" / "data" / "un_claims.jsonl"
    if report_file.is_file():
        reporting = {json.loads(line)["doc_id"] for line in report_file.open() if line.strip()}
    un_docs = [json.loads(line) for line in args.un.open(encoding="utf-8")]
    un_docs = [d for d in un_docs if d["_id"] not in reporting]
    rng.shuffle(un_docs)
    pool: list[tuple[str, str]] = [(seed_text, s) for s in sentences_of(seed_text)]
    for d in un_docs[:30]:
        sents = [s for s in sentences_of(d["text"]) if 8 <= len(s.split()) <= 45]
        pool += [(d["text"], s) for s in rng.sample(sents, min(8, len(sents)))]
    ids = list(corpus)
    rng.shuffle(ids)
    for doc_id in ids[: args.sentences]:
        title, sents = corpus[doc_id]
        sents = [s for s in sents if 8 <= len(s.split()) <= 45]
        if sents:
            pool.append((title + "\n" + " ".join(sents), rng.choice(sents)))
    names = sorted(
        {
            w.strip(".,")
            for _, s in pool
            for w in s.split()[1:]
            if w[:1].isupper() and w.strip(".,").isalpha() and len(w) > 3
        }
    )
    vocabulary = sorted(
        {w for _, s in pool for w in s.split() if w.isalpha() and w.islower() and len(w) > 6}
    )
    generator = Generator(rng, names, vocabulary)
    generated = 0
    for document, sentence in pool:
        for claim, label in generator.pairs(sentence):
            claims_x.append(claim)
            evidence_x.append(sentence)
            docs_x.append(document)
            labels.append(label)
            generated += 1
    # Other documents' sentences: the closest one by the model, and a random one.
    pool_vectors = embedder.embed_batch([s for _, s in pool])
    similar = pool_vectors @ pool_vectors.T
    for i, (document, sentence) in enumerate(pool):
        order = np.argsort(-similar[i])
        other = next((int(j) for j in order if pool[int(j)][0] != document), None)
        if other is not None:
            claims_x.append(sentence)
            evidence_x.append(pool[other][1])
            docs_x.append(pool[other][0])
            labels.append("not_found")
            generated += 1
    print(f"generated pairs: {generated}; all {len(labels)} {Counter(labels)}")

    examined = claims = claim_vectors = None
    if args.index_dir:
        claims, examined, claim_vectors = examine_on_index(args, embedder)
        for i in splits(claims)["train"]:
            for s in examined[i]:
                span = (s.candidate.doc_id, s.candidate.start, s.candidate.end)
                label = (
                    claims[i].verdict
                    if any(_overlaps(span, r) for r in claims[i].rationales)
                    else "not_found"
                )
                claims_x.append(claims[i].text)
                evidence_x.append(s.candidate.text)
                docs_x.append(None)
                labels.append(label)
        print(f"with examined pairs of training claims: {len(labels)} {Counter(labels)}")

    unique = sorted(set(claims_x) | set(evidence_x))
    row = {t: i for i, t in enumerate(unique)}
    vectors = cached_vectors(embedder, unique, args.vectors)
    u = vectors[[row[c] for c in claims_x]]
    v = vectors[[row[e] for e in evidence_x]]
    features, _ = pair_rows(idf, claims_x, evidence_x, u, v, docs_x)
    y = np.array([VERDICTS.index(label) for label in labels])  # type: ignore[arg-type]
    print(f"features {features.shape} in {time.perf_counter() - t0:.0f} s", flush=True)

    model = fit_model(features, y, args.c)
    model.save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    if claims is not None and examined is not None:
        tune(claims, examined, claim_vectors, model)


def examine_on_index(args: argparse.Namespace, embedder):  # type: ignore[no-untyped-def]
    """Every train claim's examined sentences on the SciFact index (lexical signals only), and
    the claims' vectors; the retrieved sentences come from the --examined cache when it has them."""
    from api.settings import Settings
    from index.snapshot import load_snapshot
    from index.store import IndexStore
    from qa.answer import Answerer
    from qa.check import FactChecker
    from qa.check_eval import load_claims
    from qa.retrieval import Retriever

    claims = load_claims(args.scifact)
    snapshot = load_snapshot(IndexStore(args.index_dir), embedder.dimensions)
    answerer = Answerer(embedder, Retriever(embedder), Settings().answer_config())
    checker = FactChecker(answerer)
    checker.model = None  # lexical signals and vectors only: the model is trained on them
    texts = [c.text for c in claims]
    candidates, vectors = retrieved(checker, snapshot, texts, args.examined)
    examined = [
        checker.weigh(snapshot, claim, found, None)
        for claim, found in zip(texts, candidates, strict=True)
    ]
    return claims, examined, vectors


def fit_model(features: np.ndarray, y: np.ndarray, c: float) -> VerdictModel:
    """A balanced logistic regression over standardised features, as a VerdictModel."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    classifier = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    classifier.fit((features - mean) / scale, y)
    model = VerdictModel(mean, scale, classifier.coef_.T.copy(), classifier.intercept_.copy())
    predicted = model.probabilities(features).argmax(axis=1)
    print(f"training accuracy {float((predicted == y).mean()):.3f}")
    return model


def retrieved(checker, snapshot, texts: list[str], examined: Path | None):  # type: ignore[no-untyped-def]
    """Each claim's retrieved sentences and vector: read from the `examined` cache when it
    exists, else retrieved (and written there when a path is given)."""
    from tqdm import tqdm

    if examined is not None and examined.is_file():
        return load_candidates(examined, texts)
    candidates, rows = [], []
    for claim in tqdm(texts, unit="claim", desc="retrieving", mininterval=10):
        found, vector = checker.candidates(snapshot, claim)
        candidates.append(found)
        rows.append(vector)
    vectors = np.vstack(rows)
    if examined is not None:
        save_candidates(examined, texts, candidates, vectors)
    return candidates, vectors


_FLOATS = ("similarity", "overlap", "chunk_score", "score")


def save_candidates(
    path: Path, claims: list[str], candidates: list[list[SentenceCandidate]], vectors: np.ndarray
) -> None:
    """The retrieved sentences of each claim as arrays (no pickle)."""
    flat = [(i, c) for i, found in enumerate(candidates) for c in found]
    np.savez(
        path,
        claims=np.array(claims),
        claim_vectors=vectors,
        owner=np.array([i for i, _ in flat]),
        doc_id=np.array([c.doc_id for _, c in flat]),
        text=np.array([c.text for _, c in flat]),
        span=np.array([(c.start, c.end) for _, c in flat]),
        floats=np.array([[getattr(c, f) for f in _FLOATS] for _, c in flat]),
        vector=np.vstack(
            [np.zeros(vectors.shape[1]) if c.vector is None else c.vector for _, c in flat]
        ),
        has_vector=np.array([c.vector is not None for _, c in flat]),
    )


def load_candidates(
    path: Path, claims: list[str]
) -> tuple[list[list[SentenceCandidate]], np.ndarray]:
    """The cached retrieved sentences of each claim (the cache must be of the same claims)."""
    with np.load(path, allow_pickle=False) as data:
        if data["claims"].tolist() != claims:
            raise SystemExit(f"{path} caches other claims: delete it")
        found: list[list[SentenceCandidate]] = [[] for _ in claims]
        for i, doc_id, text, span, floats, vector, has_vector in zip(
            data["owner"], data["doc_id"], data["text"], data["span"], data["floats"],
            data["vector"], data["has_vector"], strict=True,
        ):  # fmt: skip
            start, end = int(span[0]), int(span[1])
            values = [float(f) for f in floats]
            kept = vector if has_vector else None
            found[int(i)].append(
                SentenceCandidate(str(doc_id), start, end, str(text), *values, kept)
            )
        return found, data["claim_vectors"]


def tune(claims, examined, claim_vectors, model: VerdictModel) -> None:  # type: ignore[no-untyped-def]
    """Thresholds chosen on the claims with ids 2 mod 4 (precision of supported first); all
    three parts reported with the shipped thresholds and with the chosen ones."""
    from qa.check import with_probabilities
    from qa.check_eval import TUNING_GRID, markdown, score, tune_config

    examined = [
        with_probabilities(model, c.text, vec, ex)
        for c, vec, ex in zip(claims, claim_vectors, examined, strict=True)
    ]
    parts = splits(claims)
    tuning = parts["tune"]
    best = tune_config([claims[i] for i in tuning], [examined[i] for i in tuning], CheckConfig())
    print("chosen on ids 2 mod 4:", {k: getattr(best, k) for k in TUNING_GRID})
    names = {"train": "ids 0 mod 4 (trained on)", "tune": "ids 2 mod 4 (tuned on)"}
    names["report"] = "odd ids (held out)"
    for title, config in (("shipped thresholds", CheckConfig()), ("chosen thresholds", best)):
        reports = {
            names[part]: score([claims[i] for i in idx], [examined[i] for i in idx], config)
            for part, idx in parts.items()
        }
        print(f"\n{title}:\n{markdown(reports)}")


if __name__ == "__main__":
    main()
