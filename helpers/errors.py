"""Every exception and warning class sam-rs raises, and the one-line formatter for users.

The hierarchy follows what a caller can do about the error:

* :class:`UserInputError` (a ``ValueError``): bad arguments or an unusable input file; fix the input.
  The command line prints it in one line and exits with :data:`EXIT_BAD_INPUT`.
* :class:`WeightsUnavailableError`: a checkpoint is not cached and cannot be downloaded; the message
  names the ways forward. The command line exits with :data:`EXIT_NO_WEIGHTS`.
* :class:`UntrainedWeightsWarning`: a model was built from smoke weights; its masks are meaningless.

Plain ``ValueError`` / ``OSError`` from user input are treated like :class:`UserInputError` by
:func:`is_user_facing`; anything else is a bug of ours and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SOME_FAILED = 1  # a batch finished, but some inputs failed (each reported in one line)
EXIT_BAD_INPUT = 2  # bad arguments or inputs, reported before anything was loaded or written
EXIT_NO_WEIGHTS = 3  # weights could not be had (offline, no prefetched folder, no mirror)
EXIT_INTERRUPTED = 130


class SamRsError(Exception):
    """Base class of sam-rs's own exceptions."""


class UserInputError(SamRsError, ValueError):
    """Bad input from the user (arguments, files, prompts): printed as one line, never a traceback."""


class RasterPathError(UserInputError, FileNotFoundError):
    """A raster path that does not exist: both a ``FileNotFoundError`` and a one-line ``ValueError``."""


class WeightsUnavailableError(SamRsError, RuntimeError):
    """The checkpoint is not cached and cannot be downloaded (offline, HTTP error, bad checksum)."""


class CommandFailed(SamRsError, RuntimeError):
    """A command run from Python (:func:`helpers.run_command`) exited with a non-zero code; its one-line
    error was printed above."""


class UntrainedWeightsWarning(UserWarning):
    """A model was built from smoke (untrained) weights: its masks are meaningless."""


def one_line(exc: BaseException, with_type: bool | None = None) -> str:
    """The first non-empty line of an exception's message, whitespace collapsed.

    Args:
        exc: the exception.
        with_type: prefix the class name (``"KeyError: 'x'"``). ``None`` (default) prefixes it only for
            exceptions that are not user-facing (:func:`is_user_facing`), i.e. bugs, where the type helps.
    """
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[0].split()) if lines else ""
    if with_type is None:
        with_type = not is_user_facing(exc)
    if with_type or not text:
        return f"{type(exc).__name__}: {text}".rstrip(": ") if text else type(exc).__name__
    return text


def user_facing_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input or an unusable file/folder, not a bug: shown as one line."""
    errors: list[type[BaseException]] = [SamRsError, ValueError, OSError]
    try:
        from rasterio.errors import RasterioError

        errors.append(RasterioError)
    except ImportError:  # pragma: no cover - rasterio is a hard dependency
        pass
    try:
        from pyogrio.errors import DataSourceError

        errors.append(DataSourceError)
    except ImportError:  # pragma: no cover - pyogrio is a hard dependency
        pass
    return tuple(errors)


def is_user_facing(exc: BaseException) -> bool:
    """Whether ``exc`` reports bad input (one line for the user) rather than a bug (traceback)."""
    return isinstance(exc, user_facing_errors())
