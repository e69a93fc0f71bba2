"""Exporters: the pipeline's own features written in other tools' formats.

:mod:`mfon.exporters.mmsa` writes a dataset's features as one of MMSA's processed pickles (``unaligned.pkl``), so
MMSA's baselines run on features extracted from one's own videos; see docs/mmsa_export.md.
"""
