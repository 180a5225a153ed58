"""Where Numba keeps the compiled kernels, when the package folder is read-only.

``@njit(cache=True)`` writes next to the kernel's source (``__pycache__``) or, failing that,
under the user's cache folder (``~/.cache/numba``). In a container or a shared site-packages
with no writable HOME both fail and every kernel raises "cannot cache function ...: no
locator available". :func:`configure`, run on ``import course``, then points Numba at a
per-user folder in the system's temporary directory, with one warning. An explicit
``NUMBA_CACHE_DIR`` always wins.
"""

import os
import tempfile
import warnings
from pathlib import Path

import numba

KERNELS = Path(__file__).parent / "kernels" / "cpu"


def writable(folder):
    """True if ``folder`` exists or can be made, and a file can be written in it (Numba's own
    test)."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def user_cache_folder():
    """The folder Numba's user-wide cache would use (it follows HOME and XDG_CACHE_HOME)."""
    from numba.misc.appdirs import AppDirs

    try:
        return Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)
    except (KeyError, OSError):  # no HOME and no password entry
        return None


def fallback_folder():
    """A per-user folder in the system's temporary directory."""
    user = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    return Path(tempfile.gettempdir()) / f"course-numba-cache-{user}"


def configure(candidates=None):
    """Point Numba's cache at :func:`fallback_folder` when none of the places it would use is
    writable; returns the folder chosen, or None when Numba's own choice works.

    Args:
        candidates: the folders Numba would try, in order (default: the kernels'
            ``__pycache__`` and the user cache folder); tests pass their own.
    """
    if os.environ.get("NUMBA_CACHE_DIR") or numba.config.CACHE_DIR:
        return None
    if candidates is None:
        candidates = [KERNELS / "__pycache__", user_cache_folder()]
    if any(folder is not None and writable(folder) for folder in candidates):
        return None
    folder = fallback_folder()
    if not writable(folder):
        return None  # nowhere to write: Numba compiles each session without a cache
    numba.config.CACHE_DIR = str(folder)
    warnings.warn(f"course: the package folder and the user cache folder are not writable; "
                  f"Numba caches the compiled kernels in {folder}", stacklevel=2)
    return folder
