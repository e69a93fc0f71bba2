"""Feature-stage benchmark: clips/s per extractor, extraction time / decode-only time, peak memory vs clip count.

    .venv/bin/python benchmarks/feature_extraction.py                 # demo corpus (generated if needed)
    .venv/bin/python benchmarks/feature_extraction.py --manifest results/mosi/manifest.tsv --clips 100

Each extractor runs through the same driver as the pipeline (`mfon.extraction.extract_shard`, HDF5 writing
included), single-process. "decode" is the time to merely decode the same clips: the audio track to 16 kHz mono,
or the video frames at the extractor's fps as RGB arrays. Peak memory (max RSS) is measured in a fresh process
for N and 2N clips: it must not grow with the number of clips.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mfon.tsv import read_tsv, write_tsv  # noqa: E402
from mfon.extraction import extract_shard  # noqa: E402
from mfon.manifest import MANIFEST_COLUMNS  # noqa: E402
from mfon.media import decode_audio, iter_video_frames  # noqa: E402

EXTRACTORS = {
    "acoustic/eGeMAPSv02": ("acoustic", {"feature_set": "eGeMAPSv02", "sample_rate": 16000, "pool_rate": None}),
    "acoustic/ComParE_2016": ("acoustic", {"feature_set": "ComParE_2016", "sample_rate": 16000, "pool_rate": None}),
    "acoustic/covarep_like": ("acoustic", {"feature_set": "covarep_like", "sample_rate": 16000, "pool_rate": None}),
    "visual/mediapipe@15fps": ("visual", {"backend": "mediapipe", "fps": 15, "max_side": 640,
                                          "min_detection_confidence": 0.5, "no_face_policy": "keep",
                                          "device": "cpu"}),
}


def demo_manifest(workdir: Path, n_clips: int) -> Path:
    from mfon.demo import generate_demo_corpus
    from mfon.manifest import ingest, write_ingest

    root = workdir / "demo"
    speakers = max(3, -(-n_clips // 12))
    generate_demo_corpus(root, n_speakers=speakers, clips_per_speaker=12, seed=0)
    result = ingest(root / "label.csv", root, threads=2)
    manifest = workdir / "manifest.tsv"
    write_ingest(result, manifest, workdir / "rejected.tsv")
    return manifest


def subset(manifest: Path, n: int, out: Path, repeat: int = 1) -> Path:
    rows = read_tsv(manifest)[:n]
    rows = [{**r, "key": f"{r['key']}#{i}"} for i in range(repeat) for r in rows]
    write_tsv(out, rows, MANIFEST_COLUMNS)
    return out


def decode_seconds(rows: list[dict], modality: str, settings: dict) -> float:
    start = time.perf_counter()
    for row in rows:
        if modality == "acoustic":
            decode_audio(Path(row["media_path"]), settings["sample_rate"])
        else:
            for _ in iter_video_frames(Path(row["media_path"]), settings["fps"]):
                pass
    return time.perf_counter() - start


def extract_seconds(manifest: Path, modality: str, settings: dict, out: Path) -> float:
    start = time.perf_counter()
    extract_shard(manifest, out / f"{modality}.h5", out / f"{modality}.tsv", modality=modality, dataset="bench",
                  settings=settings)
    return time.perf_counter() - start


def peak_rss_mb(name: str, manifest: Path) -> float:
    """Max RSS of a fresh process that extracts every clip of ``manifest`` with extractor ``name``."""
    proc = subprocess.run([sys.executable, __file__, "--child", name, "--manifest", str(manifest)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])["max_rss_mb"]


def child(name: str, manifest: Path) -> None:
    modality, settings = EXTRACTORS[name]
    with tempfile.TemporaryDirectory() as tmp:
        extract_seconds(manifest, modality, settings, Path(tmp))
    print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, help="manifest.tsv of clips to use (default: demo corpus)")
    parser.add_argument("--clips", type=int, default=24, help="clips timed per extractor")
    parser.add_argument("--only", nargs="*", choices=sorted(EXTRACTORS), help="extractors to run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.manifest)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = args.manifest or demo_manifest(tmp, args.clips)
        small = subset(manifest, args.clips, tmp / "small.tsv")
        rows = read_tsv(small)
        seconds = sum(float(r["duration_s"]) for r in rows)
        print(f"# {len(rows)} clips, {seconds:.1f} s of media; {platform.processor() or platform.machine()}, "
              f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}")
        print(f"{'extractor':26s} {'clips/s':>8s} {'x realtime':>10s} {'extract s':>9s} {'decode s':>8s} "
              f"{'ratio':>6s} {'RSS N MB':>9s} {'RSS 2N MB':>9s}")
        for name in args.only or EXTRACTORS:
            modality, settings = EXTRACTORS[name]
            decode_seconds(rows[:2], modality, settings)  # warm caches and lazy imports
            dec = decode_seconds(rows, modality, settings)
            ext = extract_seconds(small, modality, settings, tmp)
            rss_n = peak_rss_mb(name, small)
            rss_2n = peak_rss_mb(name, subset(manifest, args.clips, tmp / "double.tsv", repeat=2))
            print(f"{name:26s} {len(rows) / ext:8.2f} {seconds / ext:10.1f} {ext:9.2f} {dec:8.2f} "
                  f"{ext / dec:6.2f} {rss_n:9.0f} {rss_2n:9.0f}", flush=True)


if __name__ == "__main__":
    main()
