"""Exceptions that carry a user-facing reason."""


class MfonError(Exception):
    """Base class: the message is meant for the user and names the file or clip."""


class ClipError(MfonError):
    """One clip cannot be used (undecodable, no audio stream, ...). It is quarantined, not fatal."""


class SheetError(MfonError):
    """The label sheet itself is structurally broken: the run stops."""


class ConfigError(MfonError):
    """The configuration does not validate."""


class ModelUnavailableError(MfonError):
    """A pretrained model is not available offline."""
