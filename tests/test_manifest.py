"""The manifest's one (de)serialisation: what is written is what is read back."""

from __future__ import annotations

import pytest

from index.errors import IndexDamaged, IndexMismatch
from index.manifest import (
    FORMAT_VERSION,
    DocumentEntry,
    Manifest,
    decode_manifest,
    encode_manifest,
    referenced_segments,
)


def manifest() -> Manifest:
    return Manifest(
        version=7,
        model={"name": "m", "dimensions": 4},
        chunking={"chunk_size": 300, "overlap": 60},
        documents={
            "b.txt": DocumentEntry("seg-00000002", "f" * 64, "B", 10, 2),
            "a.txt": DocumentEntry("seg-00000001", "e" * 64, "A", 5, 1),
        },
        next_segment=3,
        vector_index={"kind": "flat"},
        sentence_vectors=True,
    )


def test_a_manifest_reads_back_as_written() -> None:
    written = manifest()
    assert decode_manifest(encode_manifest(written).decode("utf-8"), "m.json") == written
    assert written.file_name == "manifest-00000007.json"
    assert written.segments == ["seg-00000001", "seg-00000002"]


def test_segments_are_read_without_the_format_check() -> None:
    text = (
        encode_manifest(manifest())
        .decode("utf-8")
        .replace(f'"format": {FORMAT_VERSION}', '"format": 1')
    )
    assert referenced_segments(text) == ["seg-00000001", "seg-00000002"]
    with pytest.raises(IndexMismatch, match="index format 1 is not"):
        decode_manifest(text, "m.json")


def test_a_damaged_manifest_is_unreadable_naming_its_file() -> None:
    with pytest.raises(IndexDamaged, match=r"manifest m\.json is unreadable"):
        decode_manifest('{"format": 3, "version": 1', "m.json")
    with pytest.raises(IndexDamaged, match=r"manifest m\.json is unreadable"):
        decode_manifest(f'{{"format": {FORMAT_VERSION}}}', "m.json")


def test_an_index_made_on_another_runtime_is_refused() -> None:
    onnx = {"name": "m", "dimensions": 4, "runtime": "onnx", "quantization": "none"}
    built = manifest()  # made before runtimes were recorded: torch
    chunking = built.chunking
    built.check_compatible({**onnx, "runtime": "torch"}, chunking)
    refused = r"runtime 'torch' .* but 'onnx'.*QA_EMBED_RUNTIME=torch"
    with pytest.raises(IndexMismatch, match=refused):
        built.check_compatible(onnx, chunking)
    built.model = onnx
    built.check_compatible(onnx, chunking)
    int8 = {**onnx, "quantization": "int8", "quantize_version": 3}
    with pytest.raises(IndexMismatch, match=r"quantization int8, recipe 3.*QUANTIZATION=none"):
        built.check_compatible(int8, chunking)
    built.model = {**onnx, "quantization": "int8"}  # int8 before the recipe was recorded: 2
    built.check_compatible({**int8, "quantize_version": 2}, chunking)
    with pytest.raises(IndexMismatch, match="from quantisation recipe 2 but this version makes 3"):
        built.check_compatible(int8, chunking)
