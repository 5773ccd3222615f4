"""Swapping two files in one step, so the file a rename replaces is never lost.

``os.replace`` drops the file it replaces. When another program (VS Code) saves the file in the
instant between ccendpoint's last check and its rename, that save would be gone for good. Linux
(``renameat2`` with ``RENAME_EXCHANGE``) and macOS (``renamex_np`` with ``RENAME_SWAP``) can swap two
names in one step instead: afterwards the temporary name holds exactly the file that was replaced,
including anything written into it at the last moment. Elsewhere, or on a file system that cannot
swap, :func:`swap` returns False and the caller falls back to a plain rename.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable
from functools import cache

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 2  # sys/stdio.h on macOS

#: errno values that mean "this file system (or kernel) cannot swap": fall back to a rename.
_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV})


@cache
def _swapper() -> Callable[[bytes, bytes], int] | None:
    """The C function that swaps two paths on this system, or None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux"):
        renameat2 = getattr(libc, "renameat2", None)  # glibc 2.28 and later
        if renameat2 is None:
            return None
        renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        renameat2.restype = ctypes.c_int
        return lambda a, b: int(renameat2(_AT_FDCWD, a, _AT_FDCWD, b, _RENAME_EXCHANGE))
    if sys.platform == "darwin":
        renamex_np = getattr(libc, "renamex_np", None)
        if renamex_np is None:
            return None
        renamex_np.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        renamex_np.restype = ctypes.c_int
        return lambda a, b: int(renamex_np(a, b, _RENAME_SWAP))
    return None


def can_swap() -> bool:
    """This system has a call that swaps two files (the file system may still refuse it)."""
    return _swapper() is not None


def swap(first: str, second: str) -> bool:
    """Exchange the files named ``first`` and ``second`` in one step; both must exist.

    Returns False when the system or the file system cannot do it (nothing changed then); raises
    :class:`OSError` for any other failure.
    """
    call = _swapper()
    if call is None:
        return False
    if call(os.fsencode(first), os.fsencode(second)) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), first)
