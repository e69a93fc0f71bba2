"""MMSA's models (TFN, LMF, MulT, MISA, Self-MM, MMIM, ...) trained as pipeline steps on the dataset's own features.

:mod:`.plan` (light: no torch, no MMSA) decides at planning time what a baseline run is and refuses what cannot
run; :mod:`.runner` runs one (dataset, model, seed) through ``MMSA_run`` and writes the run's files;
:mod:`.mmsa_compat` holds the work-arounds MMSA 2.2.1 needs here. MMSA is imported by the runner only.
"""
