"""MFON: Modal Feature Optimization Network with Prompt, as a data-to-model pipeline."""

__version__ = "0.1.0"
