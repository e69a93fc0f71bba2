"""Importers: feature sets made elsewhere, written into the project's own manifest and HDF5 feature files.

:mod:`mfon.importers.mmsa` reads MMSA's processed pickles (``unaligned_50.pkl`` and friends); see
docs/mmsa_import.md. Third-party pickles are loaded only through :mod:`mfon.importers.safe_pickle`.
"""
