"""Shard actors (`qa serve --distributed`): each shard's vectors and BM25 held by a Ray actor.

This process keeps each shard's chunks and texts and answers as `qa serve` does; each shard's
vectors, keyword index and multilingual channel vectors are loaded and searched by an actor of
its own, which reads them from the shard's folder (a shared mount on a real
cluster), so a question's vector and tokens go to every shard and only each shard's best rows
and the scores asked for come back (index.sharded gathers them). This process holds of the
keyword index only the collection's statistics (document frequencies), which answer idf.

BM25 scores depend on the whole collection's statistics, which every publish changes (an upload
to one shard changes every shard's idf): an actor is one shard version's, and keeps a keyword
index per statistics (keyed by their digest) for the versions served, built from its shard's
tokens on request (`prepare`). Ray restarts a dead actor (`max_restarts=-1`), which loads the
same version again with the statistics it was made with; a question for other statistics finds
them missing and sends them (RemoteKeywords). Until an actor answers, a question gets
ShardUnavailable (a 503 naming the shard), never an answer from the other shards alone. Only
`qa serve --distributed` imports this module, and with it Ray. Every shard is sent a question
before any answer is awaited.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

from index.errors import ShardUnavailable
from index.keyword import KeywordIndex, KeywordMatch, KeywordStatistics
from index.sharded import ServedShard
from index.shards import ShardStore
from index.snapshot import ShardVersion, shard_indexes
from index.vectors import VectorIndex

# A question waits this long for a shard before it is refused.
ANSWER_TIMEOUT_S = 10.0
# A new actor has this long to load its shard (the first load of a version).
LOAD_TIMEOUT_S = 600.0
# Actors hold memory more than they use CPU: they share cores with everything else.
ACTOR_CPUS = 0.1
# The vector indexes an actor holds: the chunks' (MiniLM) and the multilingual channel's.
CHUNKS, CHANNEL = "chunks", "channel"


def statistics_key(statistics: KeywordStatistics) -> str:
    """A digest naming the statistics (equal statistics, equal key)."""
    text = json.dumps(statistics.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class ShardServer:
    """A Ray actor: one shard's vectors, BM25 and channel vectors at one version, searched where
    they are held."""

    def __init__(
        self, root: str, manifest: str, dimensions: int, key: str, statistics: KeywordStatistics
    ) -> None:
        self.store = ShardStore(Path(root), manifest)
        self.manifest = self.store.read_manifest_named(manifest)
        self.vectors, keywords, self.channel = shard_indexes(
            self.store, self.manifest, dimensions, statistics
        )
        self.keywords: dict[str, KeywordIndex] = {key: keywords}
        _release()

    def size(self) -> int:
        return len(self.vectors)

    def node(self) -> str:
        """The Ray node this actor runs on."""
        return str(ray.get_runtime_context().get_node_id())

    def footprint(self) -> dict[str, int]:
        """The actor's resident memory and what its indexes' arrays hold, in bytes (for
        bench/shard_memory.py)."""
        rss = 0
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        channel = 0 if self.channel is None else len(self.channel) * self.channel.dimensions * 4
        return {
            "rss": rss,
            "flat_vectors": len(self.vectors) * self.vectors.dimensions * 4,
            "channel_vectors": channel,
            "keywords": sum(k.array_bytes() for k in self.keywords.values()),
            "keyword_indexes": len(self.keywords),
        }

    def search(
        self, queries: np.ndarray, k: int, part: str = CHUNKS
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._index(part).search(queries, k)

    def reconstruct(self, rows: np.ndarray, part: str = CHUNKS) -> np.ndarray:
        return self._index(part).reconstruct(rows)

    def set_nprobe(self, nprobe: int, part: str = CHUNKS) -> None:
        self._index(part).set_nprobe(nprobe)

    def _index(self, part: str) -> VectorIndex:
        if part == CHANNEL:
            if self.channel is None:
                raise ValueError("this shard has no multilingual channel")
            return self.channel
        return self.vectors

    def prepare(self, key: str, statistics: KeywordStatistics) -> bool:
        """A keyword index with these statistics, built from the shard's tokens if new."""
        if key not in self.keywords:
            _, self.keywords[key], _ = shard_indexes(
                self.store, self.manifest, 0, statistics, with_vectors=False
            )
            _release()
        return True

    def keep(self, keys: list[str]) -> None:
        """Drop the keyword indexes of statistics no version served uses."""
        for key in [k for k in self.keywords if k not in keys]:
            del self.keywords[key]

    def match(
        self,
        key: str,
        tokens: Sequence[str],
        k: int,
        rows: np.ndarray,
        allowed: np.ndarray | None,
    ) -> KeywordMatch | None:
        """KeywordIndex.match with those statistics; None when they are not prepared."""
        keywords = self.keywords.get(key)
        return None if keywords is None else keywords.match(tokens, k, rows, allowed)

    def present(
        self, key: str, tokens: Sequence[str], rows: np.ndarray | None
    ) -> list[bool] | None:
        keywords = self.keywords.get(key)
        return None if keywords is None else keywords.present(tokens, rows)

    def best(self, key: str, token: str) -> tuple[int, float] | None:
        keywords = self.keywords.get(key)
        return None if keywords is None else keywords.best(token)


def _release() -> None:
    """Hand the memory a load freed back to the system (glibc's malloc_trim, where there is one).

    Reading a shard makes every document, chunk and token list a Python object for a moment;
    freed, glibc keeps much of it mapped, which would count as the actor's for as long as it
    lives (about a third of its index memory, measured with bench/shard_memory.py).
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _answer(ref: Any, timeout: float, shard: int, shards: int) -> Any:
    """The actor's answer, or ShardUnavailable naming the shard."""
    try:
        return ray.get(ref, timeout=timeout)
    except (RayActorError, ActorUnavailableError, GetTimeoutError) as exc:
        raise ShardUnavailable(
            f"shard {shard + 1} of {shards} is unavailable (its actor is down or "
            "restarting); retry shortly"
        ) from exc


class RemoteVectors:
    """One shard's vectors (its chunks' or its channel's, `part`) as index.sharded asks for
    them, answered by its actor."""

    def __init__(
        self, actor: Any, shard: int, shards: int, rows: int, timeout: float, part: str = CHUNKS
    ) -> None:
        self.actor = actor
        self.shard = shard
        self.shards = shards
        self.rows = rows
        self.timeout = timeout
        self.part = part

    def __len__(self) -> int:
        return self.rows

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.search_later(queries, k)()

    def search_later(
        self, queries: np.ndarray, k: int
    ) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        """Send the search now; the returned call waits for its answer."""
        ref = self.actor.search.remote(queries, k, self.part)
        return lambda: cast(tuple[np.ndarray, np.ndarray], self._get(ref))

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        return self.reconstruct_later(rows)()

    def reconstruct_later(self, rows: np.ndarray) -> Callable[[], np.ndarray]:
        """Send the request now; the returned call waits for the vectors."""
        ref = self.actor.reconstruct.remote(rows, self.part)
        return lambda: np.asarray(self._get(ref))

    def set_nprobe(self, nprobe: int) -> None:
        self._get(self.actor.set_nprobe.remote(nprobe, self.part))

    def describe(self) -> dict[str, Any]:
        return {"kind": "ray_actor", "shard": self.shard, "part": self.part, "vectors": self.rows}

    def _get(self, ref: Any) -> Any:
        return _answer(ref, self.timeout, self.shard, self.shards)


class RemoteKeywords:
    """One shard's BM25 as index.sharded asks for it (a KeywordPart), answered by its actor
    with the statistics of the version this was made for."""

    def __init__(
        self,
        actor: Any,
        shard: int,
        shards: int,
        rows: int,
        key: str,
        statistics: Any,
        timeout: float,
    ) -> None:
        self.actor = actor
        self.shard = shard
        self.shards = shards
        self.rows = rows
        self.key = key
        self.statistics = statistics  # an ObjectRef: sent once per actor, not per question
        self.timeout = timeout

    def match(
        self, tokens: Sequence[str], k: int, rows: np.ndarray, allowed: np.ndarray | None = None
    ) -> KeywordMatch:
        return cast(KeywordMatch, self.match_later(tokens, k, rows, allowed)())

    def match_later(
        self, tokens: Sequence[str], k: int, rows: np.ndarray, allowed: np.ndarray | None = None
    ) -> Callable[[], KeywordMatch]:
        return self._later("match", list(tokens), k, rows, allowed)

    def present(self, tokens: Sequence[str], rows: np.ndarray | None = None) -> list[bool]:
        return cast(list[bool], self.present_later(tokens, rows)())

    def present_later(
        self, tokens: Sequence[str], rows: np.ndarray | None = None
    ) -> Callable[[], list[bool]]:
        return self._later("present", list(tokens), rows)

    def best(self, token: str) -> tuple[int, float]:
        return cast(tuple[int, float], self.best_later(token)())

    def best_later(self, token: str) -> Callable[[], tuple[int, float]]:
        return self._later("best", token)

    def _later(self, method: str, *args: Any) -> Callable[[], Any]:
        ref = getattr(self.actor, method).remote(self.key, *args)

        def wait() -> Any:
            found = _answer(ref, self.timeout, self.shard, self.shards)
            if found is None:
                # A restarted actor has only the statistics it was made with: send these.
                prepared = self.actor.prepare.remote(self.key, self.statistics)
                _answer(prepared, self.timeout, self.shard, self.shards)
                again = getattr(self.actor, method).remote(self.key, *args)
                found = _answer(again, self.timeout, self.shard, self.shards)
            return found

        return wait


class ShardActors:
    """index.snapshot's ShardSource: an actor per shard and version, kept for the version
    served and the one before it (a question may still be on it), the older ones ended; each
    keeps the keyword indexes of those versions' statistics."""

    def __init__(
        self,
        dimensions: int,
        timeout: float = ANSWER_TIMEOUT_S,
        load_timeout: float = LOAD_TIMEOUT_S,
        cpus: float = ACTOR_CPUS,
    ) -> None:
        self.dimensions = dimensions
        self.timeout = timeout
        self.load_timeout = load_timeout
        self.cpus = cpus
        self.actors: dict[tuple[str, str | None], Any] = {}
        # Ray restarts an actor by running its creation task again, with the same arguments: the
        # statistics it was made with must outlive every version that shares them.
        self._created_with: dict[tuple[str, str | None], Any] = {}
        self._generations: list[tuple[set[tuple[str, str | None]], str]] = []
        self._lock = threading.Lock()

    def __call__(
        self, shards: list[ShardVersion], statistics: KeywordStatistics
    ) -> list[ServedShard]:
        """Each shard's vectors, BM25 and channel at the version read (an empty shard's are
        here)."""
        # A reload and a write's validation may load versions at once.
        with self._lock:
            return self._serve(shards, statistics)

    def _serve(
        self, shards: list[ShardVersion], statistics: KeywordStatistics
    ) -> list[ServedShard]:
        key = statistics_key(statistics)
        shared = ray.put(statistics)
        wanted: set[tuple[str, str | None]] = {
            (str(s.store.root), s.store.pinned) for s in shards if s.store.pinned is not None
        }
        self._generations = [*self._generations[-1:], (wanted, key)]
        # Every actor is created or sent the statistics before any is awaited.
        loading = []
        for k, shard in enumerate(shards):
            if shard.store.pinned is not None:
                loading.append((k, shard.rows, *self._actor(shard.store, key, shared)))
        served: dict[int, ServedShard] = {}
        try:
            for k, rows, actor, ready, new in loading:
                size = _answer(ready, self.load_timeout, k, len(shards))
                if new and size != rows:
                    raise ShardUnavailable(
                        f"shard {k + 1} of {len(shards)} holds {size} rows, not {rows}"
                    )
                served[k] = ServedShard(
                    RemoteVectors(actor, k, len(shards), rows, self.timeout),
                    RemoteKeywords(actor, k, len(shards), rows, key, shared, self.timeout),
                    RemoteVectors(actor, k, len(shards), rows, self.timeout, CHANNEL)
                    if shards[k].channel
                    else None,
                )
        except Exception:
            # An actor not known to hold its shard is not kept for the next load.
            for k, _, actor, _, new in loading:
                if new and k not in served:
                    self._end(actor)
            raise
        self._retire()
        return [
            served.get(k, ServedShard(VectorIndex(self.dimensions), KeywordIndex([], statistics)))
            for k in range(len(shards))
        ]

    def _actor(self, store: ShardStore, key: str, statistics: Any) -> tuple[Any, Any, bool]:
        """The shard version's actor, what to await for it to be ready, and whether it is new."""
        name = (str(store.root), store.pinned)
        actor = self.actors.get(name)
        if actor is not None:
            return actor, actor.prepare.remote(key, statistics), False
        server: Any = ray.remote(ShardServer)
        # SPREAD: shards on different nodes where it can, so their memory is spread too.
        options = {
            "max_restarts": -1,
            "max_task_retries": 0,
            "num_cpus": self.cpus,
            "scheduling_strategy": "SPREAD",
        }
        actor = server.options(**options).remote(name[0], name[1], self.dimensions, key, statistics)
        self.actors[name] = actor
        self._created_with[name] = statistics
        return actor, actor.size.remote(), True

    def _retire(self) -> None:
        kept = set().union(*(names for names, _ in self._generations))
        keys = sorted({key for _, key in self._generations})
        for name in [n for n in self.actors if n not in kept]:
            self._end(self.actors[name])
        for actor in self.actors.values():
            actor.keep.remote(keys)

    def _end(self, actor: Any) -> None:
        ended = [n for n, a in self.actors.items() if a is actor]
        for name in ended:
            del self.actors[name]
            self._created_with.pop(name, None)
        ray.kill(actor, no_restart=True)

    def close(self) -> None:
        """End every actor."""
        for actor in list(self.actors.values()):
            self._end(actor)
