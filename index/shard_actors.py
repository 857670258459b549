"""A sharded index's vectors served by Ray actors, one per shard (`qa serve --distributed`).

This process keeps each shard's chunks, texts and BM25 (with the collection's statistics) and
answers as `qa serve` does; each shard's vectors are loaded and searched by an actor of its own,
which reads them from the shard's folder (a shared mount on a real cluster), so a question's
vector goes to every shard and only each shard's best rows come back (index.sharded gathers
them). Ray restarts a dead actor (`max_restarts=-1`), which loads the same version again; until
it answers, a question gets ShardUnavailable (a 503 naming the shard), never an answer from the
other shards alone. Only `qa serve --distributed` imports this module, and with it Ray.

A start of issue 20's step 4: the BM25 scores and the multilingual channel's vectors are
still this process's. Every shard is sent a question's vector before any answer is awaited.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

from index.errors import ShardUnavailable
from index.sharded import VectorPart
from index.shards import ShardStore
from index.snapshot import snapshot_of
from index.vectors import VectorIndex

# A question waits this long for a shard before it is refused.
ANSWER_TIMEOUT_S = 10.0
# A new actor has this long to load its shard (the first load of a version).
LOAD_TIMEOUT_S = 600.0
# Actors hold memory more than they use CPU: they share cores with everything else.
ACTOR_CPUS = 0.1


class ShardServer:
    """A Ray actor: one shard's vectors at one version, searched where they are held."""

    def __init__(self, root: str, manifest: str, dimensions: int) -> None:
        store = ShardStore(Path(root), manifest)
        snapshot = snapshot_of(store, store.read_manifest_named(manifest), manifest, dimensions)
        self.vectors = snapshot.vectors

    def size(self) -> int:
        return len(self.vectors)

    def node(self) -> str:
        """The Ray node this actor runs on."""
        return str(ray.get_runtime_context().get_node_id())

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.vectors.search(queries, k)

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        return self.vectors.reconstruct(rows)

    def set_nprobe(self, nprobe: int) -> None:
        self.vectors.set_nprobe(nprobe)


class RemoteVectors:
    """One shard's vectors as index.sharded asks for them, answered by its actor."""

    def __init__(self, actor: Any, shard: int, shards: int, rows: int, timeout: float) -> None:
        self.actor = actor
        self.shard = shard
        self.shards = shards
        self.rows = rows
        self.timeout = timeout

    def __len__(self) -> int:
        return self.rows

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.search_later(queries, k)()

    def search_later(
        self, queries: np.ndarray, k: int
    ) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        """Send the search now; the returned call waits for its answer."""
        ref = self.actor.search.remote(queries, k)
        return lambda: cast(tuple[np.ndarray, np.ndarray], self._get(ref))

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self._get(self.actor.reconstruct.remote(rows)))

    def set_nprobe(self, nprobe: int) -> None:
        self._get(self.actor.set_nprobe.remote(nprobe))

    def describe(self) -> dict[str, Any]:
        return {"kind": "ray_actor", "shard": self.shard, "vectors": self.rows}

    def _get(self, ref: Any) -> Any:
        try:
            return ray.get(ref, timeout=self.timeout)
        except (RayActorError, ActorUnavailableError, GetTimeoutError) as exc:
            raise ShardUnavailable(
                f"shard {self.shard + 1} of {self.shards} is unavailable (its actor is down or "
                "restarting); retry shortly"
            ) from exc


class ShardActors:
    """index.snapshot's VectorSource: an actor per shard and version, kept for the version
    served and the one before it (a question may still be on it), the older ones ended."""

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
        self._generations: list[set[tuple[str, str | None]]] = []
        self._lock = threading.Lock()

    def __call__(self, shards: list[tuple[ShardStore, int]]) -> list[VectorPart]:
        """Each shard's vectors at the version read (an empty shard's are empty, here)."""
        # A reload and a write's validation may load versions at once.
        with self._lock:
            return self._serve(shards)

    def _serve(self, shards: list[tuple[ShardStore, int]]) -> list[VectorPart]:
        served: list[VectorPart] = []
        wanted: set[tuple[str, str | None]] = {
            (str(s.root), s.pinned) for s, _ in shards if s.pinned is not None
        }
        self._generations = [*self._generations[-1:], wanted]
        for k, (store, rows) in enumerate(shards):
            if store.pinned is None:
                served.append(VectorIndex(self.dimensions))
                continue
            actor = self._actor(store, k, len(shards), rows)
            served.append(RemoteVectors(actor, k, len(shards), rows, self.timeout))
        self._retire()
        return served

    def _actor(self, store: ShardStore, shard: int, shards: int, rows: int) -> Any:
        key = (str(store.root), store.pinned)
        actor = self.actors.get(key)
        if actor is None:
            server: Any = ray.remote(ShardServer)
            # SPREAD: shards on different nodes where it can, so their memory is spread too.
            options = {
                "max_restarts": -1,
                "max_task_retries": 0,
                "num_cpus": self.cpus,
                "scheduling_strategy": "SPREAD",
            }
            actor = server.options(**options).remote(key[0], key[1], self.dimensions)
            size = ray.get(actor.size.remote(), timeout=self.load_timeout)
            if size != rows:
                raise ShardUnavailable(
                    f"shard {shard + 1} of {shards} holds {size} rows, not {rows}"
                )
            self.actors[key] = actor
        return actor

    def _retire(self) -> None:
        kept = set().union(*self._generations)
        for key in [k for k in self.actors if k not in kept]:
            ray.kill(self.actors.pop(key), no_restart=True)

    def close(self) -> None:
        """End every actor."""
        for actor in self.actors.values():
            ray.kill(actor, no_restart=True)
        self.actors.clear()
