"""`qa index --distributed` against `qa index` on the same UN speeches: time, chunks/s, peak memory.

    python bench/distributed_index.py --corpus ../shared/corpora/ungdc-1946-2024.tar.xz --docs 500
    python bench/distributed_index.py --docs 100 --actors 1,2

The first N speeches are written as N .txt files (so the cluster has files to read in
parallel), then each command runs in a child process on an empty index folder: `qa index` on
all cores, then `qa index --distributed` with a local Ray (each --actors value). Wall time is
the whole command: model loading and, distributed, Ray's start. Every process of the command's
tree is sampled twice a second; its VmHWM (the kernel's peak resident memory of the process)
gives the driver's peak, the embedding actors' and the rest of Ray's (raylet, GCS, idle
workers), each summed over its processes, and so does its CPU time (user + system, the last
sample: a process's final half second is missed). The indexes are then compared: the same documents,
chunks and texts, and the largest difference between their vectors.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, SHARED, machine, markdown_table, write_json

DEFAULT_CORPUS = SHARED / "corpora" / "ungdc-1946-2024.tar.xz"
TICKS = os.sysconf("SC_CLK_TCK")


def write_speeches(corpus: Path, docs: int, folder: Path) -> int:
    """The first `docs` speeches of the tar (or JSONL) as .txt files; returns their characters."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = 0
    if corpus.suffix == ".jsonl":
        with open(corpus, encoding="utf-8") as f:
            records = [json.loads(line) for line in itertools.islice(f, docs)]
        texts = [(r["_id"] + ".txt", r["text"]) for r in records]
    else:
        texts = []
        with tarfile.open(corpus) as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".txt"):
                    data = tar.extractfile(member)
                    assert data is not None
                    texts.append((Path(member.name).name, data.read().decode("utf-8", "replace")))
                    if len(texts) == docs:
                        break
    for name, text in texts:
        (folder / name).write_text(text, encoding="utf-8")
        chars += len(text)
    return chars


def _tree(root: int) -> list[int]:
    """root and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


class TreeSampler:
    """The peak resident memory (VmHWM, MB) of every process in a tree, with its command line."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peaks: dict[int, tuple[str, float]] = {}
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in _tree(self.root):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                # utime + stime, in clock ticks (fields 14 and 15 of proc(5)).
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) / TICKS
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        peak = int(line.split()[1]) / 1024
                        self.peaks[pid] = (title.decode(errors="replace"), peak)
            self._stop.wait(0.5)

    def stop(self) -> dict[str, float]:
        """Peaks summed by role: driver, embedding actors, the rest of Ray."""
        self._stop.set()
        self._thread.join()
        roles = {"actors": 0.0}
        for role in ("driver", "actors", "ray_other"):
            roles[f"{role}_mb"] = roles[f"{role}_cpu_s"] = 0.0
        for pid, (title, peak) in self.peaks.items():
            role = "driver" if pid == self.root else "ray_other"
            if "EmbeddingActor" in title:
                role = "actors"
                roles["actors"] += 1
            roles[f"{role}_mb"] += peak
            roles[f"{role}_cpu_s"] += self.cpu.get(pid, 0.0)
        return roles


def run(folder: Path, index: Path, extra: list[str]) -> dict[str, Any]:
    """One `qa index` in a child process on an empty index folder."""
    env = {**os.environ, "QA_INDEX_DIR": str(index), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "api.entry", "index", str(folder), *extra]
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    sampler = TreeSampler(child.pid)
    out, _ = child.communicate()
    seconds = time.perf_counter() - started
    memory = sampler.stop()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}): {out}")
    chunks = int(out.split(" chunks")[0].rsplit(" ", 1)[1])
    return {"seconds": seconds, "chunks": chunks, "chunks_per_s": chunks / seconds, **memory}


def compare(one: Path, other: Path) -> dict[str, Any]:
    """Whether two indexes hold the same chunks, texts and documents; their vectors' distance."""
    sys.path.insert(0, str(ROOT))
    from index.store import IndexStore

    first, second = IndexStore(one), IndexStore(other)
    a, b = first.read_manifest(), second.read_manifest()
    assert a is not None and b is not None
    same = a.to_json()["documents"] == b.to_json()["documents"] and a.segments == b.segments
    worst = 0.0
    for name in a.segments:
        for file in ("chunks.jsonl", "tokens.jsonl", "documents.jsonl"):
            left = (first.segments_dir / name / file).read_bytes()
            same = same and left == (second.segments_dir / name / file).read_bytes()
        x = np.load(first.segments_dir / name / "vectors.npy")
        y = np.load(second.segments_dir / name / "vectors.npy")
        worst = max(worst, float(np.abs(x - y).max()))
    return {"identical_chunks_texts_documents": same, "max_vector_difference": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--actors", default="", help="comma-separated; default: Ray's choice")
    args = parser.parse_args()
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "speeches"
        chars = write_speeches(args.corpus, args.docs, folder)
        load_before = os.getloadavg()[0]
        runs = [("qa index", [])]
        for actors in [a for a in args.actors.split(",") if a] or [""]:
            extra = ["--distributed", *(["--actors", actors] if actors else [])]
            runs.append((" ".join(["qa index", *extra]), extra))
        for number, (label, extra) in enumerate(runs):
            result = {"command": label, **run(folder, Path(tmp) / f"index-{number}", extra)}
            if number:
                result.update(compare(Path(tmp) / "index-0", Path(tmp) / f"index-{number}"))
            results.append(result)
            rows.append(
                [
                    label,
                    f"{result['seconds']:.0f}",
                    f"{result['chunks_per_s']:.1f}",
                    f"{result['driver_mb']:.0f}",
                    f"{result['actors_mb']:.0f} ({result['actors']:.0f})",
                    f"{result['ray_other_mb']:.0f}",
                    f"{result['driver_cpu_s']:.0f} / {result['actors_cpu_s']:.0f} / "
                    f"{result['ray_other_cpu_s']:.0f}",
                    str(result.get("identical_chunks_texts_documents", "")),
                    f"{result.get('max_vector_difference', 0):.1e}",
                ]
            )
    print(
        f"{args.docs} speeches, {chars:,} characters, {results[0]['chunks']} chunks; "
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(
        markdown_table(
            [
                "command",
                "wall s",
                "chunks/s",
                "driver peak MB",
                "actors peak MB (n)",
                "rest of Ray MB",
                "CPU s: driver / actors / rest",
                "same index",
                "max |dv|",
            ],
            rows,
        )
    )
    write_json(
        "distributed_index.json",
        {"machine": machine(), "docs": args.docs, "chars": chars, "runs": results},
    )


if __name__ == "__main__":
    main()
