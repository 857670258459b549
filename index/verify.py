"""fsck for an index folder: which versions are whole, what is damaged, and what can be rebuilt.

Every file of every live segment is checked against the row counts and sha256 checksums its
manifest recorded at publish time; a version whose manifest predates those records is checked
for files that disagree with each other only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from index.errors import IndexDamaged, IndexMismatch
from index.manifest import Manifest, SegmentRecord, ShardedManifest
from index.shards import shard_stores
from index.store import (
    CHANNEL,
    CHUNKS,
    DOCUMENTS,
    SENTENCE_OFFSETS,
    SENTENCES,
    TOKENS,
    VECTORS,
    IndexStore,
    count_lines,
    file_sha256,
)

_SENTENCES_AGAIN = "rebuildable by embedding its sentences again (`qa index --sentence-vectors`)"
# What each damaged file costs, given the others are intact.
REPAIR = {
    TOKENS: "rebuildable from documents.jsonl and chunks.jsonl (nothing embedded)",
    CHUNKS: "rebuildable by chunking documents.jsonl again (stored vectors kept)",
    SENTENCES: _SENTENCES_AGAIN,
    SENTENCE_OFFSETS: _SENTENCES_AGAIN,
    CHANNEL: "rebuildable by embedding its chunks with the multilingual channel again",
    VECTORS: "its documents must be embedded again (`qa index --rebuild` or upload them again)",
    DOCUMENTS: "not rebuildable here: the documents' text is lost; index the sources again",
}


@dataclass(frozen=True)
class Problem:
    """One damaged thing: where, what is wrong, and what it takes to rebuild it."""

    where: str
    problem: str
    repair: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}" + (f"; {self.repair}" if self.repair else "")


@dataclass
class VersionReport:
    """One manifest on disk and what is wrong with it (nothing when it is whole)."""

    name: str
    current: bool
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerifyReport:
    """Every version on disk, newest first, and whether CURRENT is sound."""

    current: str | None
    versions: list[VersionReport]
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when CURRENT names a whole version."""
        current = [v for v in self.versions if v.current]
        return not self.problems and bool(current) and current[0].ok

    @property
    def last_good(self) -> str | None:
        """The newest whole version, which the service serves when CURRENT's is damaged."""
        return next((v.name for v in self.versions if v.ok), None)


def verify_index(store: IndexStore) -> VerifyReport:
    """Check every version on disk: counts, checksums, and what the loader would refuse."""
    current = store.current_name()
    names = store.manifest_names()
    report = VerifyReport(current, [])
    if current is None and names:
        report.problems.append(
            Problem("CURRENT", "missing", "point it at the last good version or rebuild")
        )
    elif current is not None and current not in names:
        report.problems.append(Problem("CURRENT", f"names {current}, which is missing"))
    checksums: dict[tuple[str, str], str] = {}  # a segment shared by versions is read once
    for name in reversed(names):
        version = VersionReport(name, name == current)
        report.versions.append(version)
        try:
            manifest = store.read_version(name)
        except (IndexDamaged, IndexMismatch) as exc:
            version.problems.append(Problem(name, str(exc), "an older version may be whole"))
            continue
        if isinstance(manifest, ShardedManifest):
            version.problems.extend(_check_shards(store, manifest, checksums))
            continue
        for segment in manifest.segments:
            version.problems.extend(_check_segment(store, manifest, segment, checksums))
    return report


def _check_shards(
    store: IndexStore, top: ShardedManifest, checksums: dict[tuple[str, str], str]
) -> list[Problem]:
    """The problems of each shard's version that a sharded index's top-level manifest names."""
    problems = []
    for shard in shard_stores(store, top):
        if shard.pinned is None:
            continue
        where = shard.root.name
        try:
            manifest = shard.read_manifest_named(shard.pinned)
        except FileNotFoundError:
            problems.append(Problem(f"{where}/{shard.pinned}", "missing", "rebuild the index"))
            continue
        except (IndexDamaged, IndexMismatch) as exc:
            problems.append(Problem(f"{where}/{shard.pinned}", str(exc), "rebuild the index"))
            continue
        for segment in manifest.segments:
            problems.extend(_check_segment(shard, manifest, segment, checksums, f"{where}/"))
    return problems


def _check_segment(
    store: IndexStore,
    manifest: Manifest,
    segment: str,
    checksums: dict[tuple[str, str], str],
    prefix: str = "",
) -> list[Problem]:
    """prefix: the shard's folder, for a shard's segment (index.shards)."""
    folder = store.segments_dir / segment
    record = manifest.segment_records.get(segment)
    if not folder.is_dir():
        return [Problem(prefix + segment, "missing", "its documents must be indexed again")]
    problems = []
    expected_files = record.sha256 if record is not None else {}
    for file in dict.fromkeys((VECTORS, CHUNKS, TOKENS, DOCUMENTS, *expected_files)):
        path = folder / file
        where = f"{prefix}{segment}/{file}"
        if not path.is_file():
            problems.append(Problem(where, "missing", REPAIR.get(file, "")))
            continue
        if file in expected_files:
            key = (prefix + segment, file)
            if key not in checksums:
                checksums[key] = file_sha256(path)
            if checksums[key] != expected_files[file]:
                problems.append(Problem(where, "checksum differs", REPAIR.get(file, "")))
    problems.extend(_check_counts(store, segment, record, {p.where for p in problems}, prefix))
    return problems


def _check_counts(
    store: IndexStore, segment: str, record: SegmentRecord | None, known: set[str], prefix: str
) -> list[Problem]:
    shown = prefix + segment
    folder = store.segments_dir / segment
    counts: dict[str, int] = {}
    for file in (CHUNKS, TOKENS, DOCUMENTS):
        if (folder / file).is_file():
            counts[file] = count_lines(folder / file)
    try:
        counts[VECTORS] = store.segment_rows(segment)
    except (OSError, ValueError):
        if f"{shown}/{VECTORS}" not in known:
            return [Problem(f"{shown}/{VECTORS}", "unreadable", REPAIR[VECTORS])]
    rows = record.rows if record is not None else counts.get(VECTORS)
    problems = []
    for file in (VECTORS, CHUNKS, TOKENS):
        where = f"{shown}/{file}"
        if file in counts and rows is not None and counts[file] != rows and where not in known:
            problems.append(
                Problem(where, f"{counts[file]} rows, {rows} expected", REPAIR.get(file, ""))
            )
    if record is not None and counts.get(DOCUMENTS, record.documents) != record.documents:
        where = f"{shown}/{DOCUMENTS}"
        if where not in known:
            problems.append(
                Problem(
                    where,
                    f"{counts[DOCUMENTS]} documents, {record.documents} expected",
                    REPAIR[DOCUMENTS],
                )
            )
    return problems
