"""The one list of feature extractors, keyed by the name the config uses for each.

``acoustic.feature_set`` names the acoustic extractor, ``visual.backend`` the visual one; the text section has one
extractor (``text``). Each entry names the module and class that implement it; the module is imported only when
the extractor is built, so heavy libraries (openSMILE, MediaPipe, py-feat, transformers) load only for the
extractor that is used, and :func:`extractor_modules` tells which modules a modality's extraction runs.
The extractor is built from the config section: the fields of its config dataclass are taken from the section,
everything else in the section (``no_face_policy``, other backends' keys) is not the extractor's.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass

from ..errors import ConfigError


class UnknownExtractorError(ConfigError, ValueError):
    """No extractor is registered under the configured name."""


@dataclass(frozen=True)
class ExtractorEntry:
    name: str  # the config value that selects it
    modality: str  # "acoustic", "visual" or "text"
    module: str
    class_name: str


EXTRACTORS: dict[str, ExtractorEntry] = {entry.name: entry for entry in (
    ExtractorEntry("eGeMAPSv02", "acoustic", "mfon.features.opensmile", "OpenSmileExtractor"),
    ExtractorEntry("ComParE_2016", "acoustic", "mfon.features.opensmile", "OpenSmileExtractor"),
    ExtractorEntry("covarep_like", "acoustic", "mfon.features.covarep", "CovarepLikeExtractor"),
    ExtractorEntry("mediapipe", "visual", "mfon.features.mediapipe_face", "MediaPipeFaceExtractor"),
    ExtractorEntry("pyfeat", "visual", "mfon.features.pyfeat", "PyFeatExtractor"),
    ExtractorEntry("openface_csv", "visual", "mfon.features.facial_csv", "OpenFaceCSVExtractor"),
    ExtractorEntry("facet_export", "visual", "mfon.features.facial_csv", "FacetExportExtractor"),
    ExtractorEntry("text", "text", "mfon.features.text", "TextTokenizer"),
)}

# The key of a modality's config section that names its extractor; a modality without one has a single extractor.
SELECTOR_KEYS = {"acoustic": "feature_set", "visual": "backend"}


def extractor_names(modality: str) -> tuple[str, ...]:
    """The config names of ``modality``'s extractors, in registry order."""
    return tuple(name for name, entry in EXTRACTORS.items() if entry.modality == modality)


def extractor_modules(modality: str | None = None) -> list[str]:
    """Modules (dotted names) that implement ``modality``'s extractors (all modalities when None)."""
    return list(dict.fromkeys(e.module for e in EXTRACTORS.values() if modality in (None, e.modality)))


def extractor_module(modality: str, settings: dict) -> str:
    """The module of the extractor that the config section ``settings`` of ``modality`` selects."""
    return EXTRACTORS[extractor_name(modality, settings)].module


def extractor_name(modality: str, settings: dict) -> str:
    """The name of the extractor that ``settings`` (a config section of ``modality``) selects."""
    names = extractor_names(modality)
    if not names:
        raise UnknownExtractorError(f"unknown modality {modality!r}; expected one of "
                                    f"{sorted({e.modality for e in EXTRACTORS.values()})}")
    key = SELECTOR_KEYS.get(modality)
    if key is None:
        return names[0]
    name = settings.get(key)
    if name not in names:
        raise UnknownExtractorError(f"unknown {modality} {key} {name!r}; allowed: {', '.join(names)}")
    return name


def extractor_class(name: str) -> type:
    """The class registered under ``name`` (its module is imported here)."""
    entry = EXTRACTORS.get(name)
    if entry is None:
        raise UnknownExtractorError(f"unknown extractor {name!r}; registered: {', '.join(EXTRACTORS)}")
    return getattr(importlib.import_module(entry.module), entry.class_name)


def config_from_settings(config_type: type, settings: dict):
    """``config_type`` filled with the fields that ``settings`` holds (the others keep their defaults)."""
    return config_type(**{f.name: settings[f.name] for f in dataclasses.fields(config_type) if f.name in settings})


def create_extractor(modality: str, settings: dict):
    """The extractor that the config section ``settings`` of ``modality`` describes."""
    cls = extractor_class(extractor_name(modality, settings))
    return cls(config_from_settings(cls.config_type, settings))


def names_of(cls: type) -> tuple[str, ...]:
    """The config names registered for the class ``cls`` (one class may serve several, e.g. openSMILE sets)."""
    return tuple(name for name, e in EXTRACTORS.items()
                 if (e.module, e.class_name) == (cls.__module__, cls.__qualname__))
