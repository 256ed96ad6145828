"""Error and warning classes: a user's mistake is a CcmGeoError, a recoverable one a warning."""

__all__ = [
    "CcmGeoError",
    "ConfigError",
    "InputError",
    "InputFileNotFoundError",
    "ValidationError",
    "SolverError",
    "DatabaseError",
    "EngineError",
    "CcmGeoWarning",
    "DataWarning",
]


class CcmGeoError(Exception):
    """Base of every error caused by a user's input or configuration.

    The CLI prints the message in one line (no traceback) and exits 1. Messages name the file,
    the row or key, the value found and what to do.
    """


class ConfigError(CcmGeoError, ValueError):
    """The project configuration is wrong: the message names the key path and the expected form."""


class InputError(CcmGeoError, ValueError):
    """An input file cannot be used as it is."""


class InputFileNotFoundError(CcmGeoError, FileNotFoundError):
    """An input file named in the configuration or on the command line does not exist."""


class ValidationError(InputError):
    """Validation found problems that make the input unusable; carries the full report."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


class SolverError(CcmGeoError, RuntimeError):
    """The optimisation model could not be solved as configured (infeasible locks, ...)."""


class DatabaseError(CcmGeoError, ConnectionError):
    """A database cannot be reached or refused a statement; the message names host and user."""


class EngineError(CcmGeoError, RuntimeError):
    """The compute engine cannot run the work: Dask missing, scheduler unreachable, or an
    input a worker cannot read (the message names the worker and the path)."""


class CcmGeoWarning(UserWarning):
    """Base of ccm_geo's warnings: something the user can recover from."""


class DataWarning(CcmGeoWarning):
    """Input data was repaired, excluded or is incomplete; the message says which rows and why."""
