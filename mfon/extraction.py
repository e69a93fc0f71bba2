"""The extraction driver: run one extractor over one shard of the manifest, merge shards into one file.

Per clip it records a QC row (status, frames, valid-frame fraction, replaced non-finite values, seconds).
A clip the extractor cannot use is quarantined (status ``quarantined``, with the reason); a visual clip in which
no face is ever found is handled by the visual settings' ``no_face_policy`` (:func:`stored_clip`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ClipError, MfonError
from .features import replace_nonfinite
from .features.registry import create_extractor as build_extractor  # the extractor a config section describes
from .h5store import FeatureFile, write_feature_file
from .logutil import Progress
from .manifest import read_manifest
from .provenance import utc_now
from .tsv import read_tsv, write_tsv

log = logging.getLogger(__name__)

REPORT_COLUMNS = ["key", "status", "n_frames", "valid_fraction", "nonfinite_replaced", "seconds", "reason"]


def shard_of(rows: list[dict], shard: int, n_shards: int) -> list[dict]:
    """Clip i of the manifest goes to shard i mod n_shards (interleaving balances long and short clips)."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} outside 0..{n_shards - 1}")
    return rows[shard::n_shards]


@dataclass
class StoredClip:
    """What the pipeline stores of one extracted clip, and the clip's status."""

    values: np.ndarray   # (T, D) float32, non-finite values replaced by 0
    valid: np.ndarray    # (T,) bool: a frame with a face (visual) or a real frame
    replaced: int        # how many non-finite values were replaced
    status: str          # ok | no_face (kept, zero-filled) | quarantined
    reason: str


def stored_clip(seq, modality: str, media: Path | str, settings: dict) -> StoredClip:
    """The extractor's sequence ``seq`` of the clip at ``media`` as the feature file stores it, with its status:
    a clip without frames is quarantined; a visual clip without a face in any frame is kept (``keep``: frames
    zero-filled), quarantined (``drop``) or stops the run (``fail``: :class:`MfonError`), as the modality's
    ``settings`` say (``no_face_policy``)."""
    values, replaced = replace_nonfinite(seq.values)
    valid = np.asarray(seq.valid).astype(bool)
    status, reason = "ok", ""
    if values.shape[0] == 0:
        status, reason = "quarantined", f"{media}: no {modality} frames"
    elif modality == "visual" and not valid.any():
        reason = f"{media}: no face found in any of {values.shape[0]} frames"
        no_face_policy = settings["no_face_policy"]
        if no_face_policy == "fail":
            raise MfonError(f"{reason} (visual.no_face_policy is 'fail')")
        status = "no_face" if no_face_policy == "keep" else "quarantined"
    return StoredClip(values=values, valid=valid, replaced=replaced, status=status, reason=reason)


def extract_shard(manifest_path: Path, out_path: Path, report_path: Path, *, modality: str, dataset: str,
                  settings: dict, shard: int = 0, n_shards: int = 1, compression_level: int = 4) -> None:
    """Extract ``modality`` features for one shard of the manifest into ``out_path`` with a QC report."""
    rows = shard_of(read_manifest(manifest_path), shard, n_shards)
    extractor = build_extractor(modality, settings)
    log.info("%s shard %d/%d: %d clips with %s", modality, shard + 1, n_shards, len(rows), extractor.describe())
    report = []
    progress = Progress(len(rows), f"{modality} features")
    with write_feature_file(out_path, compression_level) as writer:
        writer.write_header(modality=modality, dataset=dataset, settings=settings, manifest=manifest_path,
                            description={**extractor.describe(), "dim_names": list(extractor.dim_names),
                                         "frame_rate": float(extractor.frame_rate)})
        for row in rows:
            key, start = row["key"], time.monotonic()
            entry = {"key": key, "status": "ok", "n_frames": 0, "valid_fraction": 0.0, "nonfinite_replaced": 0,
                     "reason": ""}
            try:
                seq = extractor.extract(Path(row["media_path"]))
            except ClipError as exc:
                entry.update(status="quarantined", reason=str(exc))
                log.warning("quarantined %s: %s", key, exc)
            else:
                try:
                    clip = stored_clip(seq, modality, row["media_path"], settings)
                except MfonError as exc:
                    raise MfonError(f"clip {key}: {exc}") from None
                entry.update(n_frames=clip.values.shape[0], nonfinite_replaced=clip.replaced,
                             valid_fraction=round(float(seq.valid.mean()) if len(seq.valid) else 0.0, 4),
                             status=clip.status, reason=clip.reason)
                if clip.status != "ok":
                    log.warning("%s %s: %s", clip.status, key, clip.reason)
                if clip.status in ("ok", "no_face"):
                    attrs = {"video_id": row["video_id"], "clip_id": row["clip_id"], "n_frames": clip.values.shape[0],
                             "nonfinite_replaced": clip.replaced, **seq.info}
                    writer.add_clip(key, {"features": clip.values, "valid": seq.valid.astype(np.uint8)}, attrs)
            entry["seconds"] = round(time.monotonic() - start, 3)
            report.append(entry)
            progress.step()
    write_tsv(report_path, report, REPORT_COLUMNS)


def merge_shards(manifest_path: Path, shard_paths: list[Path], shard_reports: list[Path], out_path: Path,
                 report_path: Path, compression_level: int = 4) -> None:
    """Merge shard files (made with the same settings) into one file, clips in manifest order."""
    order = [row["key"] for row in read_manifest(manifest_path)]
    files = [FeatureFile(p) for p in shard_paths]
    try:
        hashes = {f.attrs["config_hash"] for f in files}
        if len(hashes) != 1:
            raise MfonError(f"shards {shard_paths} were made with different settings ({sorted(hashes)})")
        where = {key: f for f in files for key in f.keys()}
        with write_feature_file(out_path, compression_level) as writer:
            writer.set_root_attrs({k: v for k, v in files[0].attrs.items() if k != "n_clips"})
            writer.set_root_attrs({"created_utc": utc_now()})
            for key in order:
                if key in where:
                    writer.copy_clip_from(where[key].group(key), key)
    finally:
        for f in files:
            f.close()
    report = [row for path in shard_reports for row in read_tsv(path)]
    rank = {key: i for i, key in enumerate(order)}
    report.sort(key=lambda r: rank.get(r["key"], len(rank)))
    write_tsv(report_path, report, REPORT_COLUMNS)
    counts: dict[str, int] = {}
    for row in report:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    log.info("merged %d shards into %s: %s", len(shard_paths), out_path, counts)
