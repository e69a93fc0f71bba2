"""The extraction driver: run one extractor over one shard of the manifest, merge shards into one file.

Per clip it records a QC row (status, frames, valid-frame fraction, replaced non-finite values, seconds).
A clip the extractor cannot use is quarantined (status ``quarantined``, with the reason); a visual clip in which
no face is ever found is handled by ``no_face_policy``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from .config import config_hash
from .errors import ClipError, MfonError
from .features import replace_nonfinite
from .features.registry import create_extractor as build_extractor  # the extractor a config section describes
from .h5store import SCHEMA_VERSION, FeatureFile, write_feature_file
from .logutil import Progress
from .manifest import read_manifest
from .provenance import file_sha256, package_versions, utc_now
from .tsv import read_tsv, write_tsv

log = logging.getLogger(__name__)

REPORT_COLUMNS = ["key", "status", "n_frames", "valid_fraction", "nonfinite_replaced", "seconds", "reason"]


def shard_of(rows: list[dict], shard: int, n_shards: int) -> list[dict]:
    """Clip i of the manifest goes to shard i mod n_shards (interleaving balances long and short clips)."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} outside 0..{n_shards - 1}")
    return rows[shard::n_shards]


def extract_shard(manifest_path: Path, out_path: Path, report_path: Path, *, modality: str, dataset: str,
                  settings: dict, shard: int = 0, n_shards: int = 1, compression_level: int = 4,
                  no_face_policy: str = "keep") -> None:
    """Extract ``modality`` features for one shard of the manifest into ``out_path`` with a QC report."""
    rows = shard_of(read_manifest(manifest_path), shard, n_shards)
    extractor = build_extractor(modality, settings)
    log.info("%s shard %d/%d: %d clips with %s", modality, shard + 1, n_shards, len(rows), extractor.describe())
    report = []
    progress = Progress(len(rows), f"{modality} features")
    with write_feature_file(out_path, compression_level) as writer:
        writer.set_root_attrs({
            "schema_version": SCHEMA_VERSION, "modality": modality, "dataset": dataset, "created_utc": utc_now(),
            "config_hash": config_hash({"modality": modality, **settings}), "settings_json": settings,
            "versions_json": package_versions(), "manifest_sha256": file_sha256(manifest_path),
            **extractor.describe(), "dim_names": list(extractor.dim_names), "frame_rate": float(extractor.frame_rate),
        })
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
                values, replaced = replace_nonfinite(seq.values)
                entry.update(n_frames=values.shape[0], nonfinite_replaced=replaced,
                             valid_fraction=round(float(seq.valid.mean()) if len(seq.valid) else 0.0, 4))
                if values.shape[0] == 0:
                    entry.update(status="quarantined", reason=f"{row['media_path']}: no {modality} frames")
                elif modality == "visual" and not seq.valid.any():
                    reason = f"{row['media_path']}: no face found in any of {values.shape[0]} frames"
                    if no_face_policy == "fail":
                        raise MfonError(f"clip {key}: {reason} (visual.no_face_policy is 'fail')")
                    entry.update(status="no_face" if no_face_policy == "keep" else "quarantined", reason=reason)
                    log.warning("%s %s: %s", entry["status"], key, reason)
                if entry["status"] in ("ok", "no_face"):
                    attrs = {"video_id": row["video_id"], "clip_id": row["clip_id"], "n_frames": values.shape[0],
                             "nonfinite_replaced": replaced, **seq.info}
                    writer.add_clip(key, {"features": values, "valid": seq.valid.astype(np.uint8)}, attrs)
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
