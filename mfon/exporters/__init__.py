"""Exporters: the pipeline's own features written in other tools' formats.

:mod:`mfon.exporters.mmsa` writes a dataset's features as one of MMSA's processed pickles (``unaligned.pkl``), so
MMSA's baselines run on features extracted from one's own videos; see docs/mmsa_export.md.
"""

from pathlib import Path

from ..errors import MfonError


def require_export_inputs(paths, subject: str, remedy: str) -> None:
    """Raise ``{subject}: not made yet: <missing files>. {remedy}`` unless every file in ``paths`` exists.
    Torch- and h5py-free, so the CLI answers before the exporter's imports (tens of seconds)."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise MfonError(f"{subject}: not made yet: {', '.join(missing)}. {remedy}")
