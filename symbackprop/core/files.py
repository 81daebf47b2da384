"""Where the package's data lives; reading input files with a size cap, and writing
output files so that nothing is half-written.

Every problem with a path (missing, a folder, a FIFO or device, too big, not
UTF-8, read-only, no space, …) is one ``FileError`` naming the path and the
reason in words.
"""
from __future__ import annotations

import errno
import functools
import os
import re
import stat
import signal
import tempfile
import threading
import time
from pathlib import Path

from .errors import SpecError

CHUNK = 1 << 20


class FileError(SpecError):
    """A file that cannot be read or written; the message names the path and why."""


REASONS = {
    errno.ENOENT: "no such file or folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted (an immutable or protected file or folder?)",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.EEXIST: "exists and is not a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "too many symbolic links",
    errno.EIO: "input/output error",
    errno.EFBIG: "the file is too large for the file system",
    errno.ENXIO: "no such device",
    errno.EINVAL: "invalid for this file system",
}


def reason(exc: OSError) -> str:
    """An ``OSError`` in words (errno's text when it is not one of the common ones)."""
    return REASONS.get(exc.errno, exc.strerror or type(exc).__name__)


def read_limited(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    A FIFO, a device or a socket is refused before anything is read (a FIFO
    would wait for a writer, ``/dev/zero`` never ends), and so is a file over
    ``limit`` bytes — also one whose size the system reports as 0 (``/proc``).
    """
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise FileError(f"{path}: cannot read the {what}: {reason(exc)}.") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileError(f"{path}: is a folder; expected a {what}.")
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else
                    "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                    "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise FileError(f"{path}: is {kind}, not a regular file; expected a {what} "
                            "(save the data to a file first).")
        if info.st_size > limit:
            raise FileError(f"{path}: the {what} is {info.st_size} bytes; at most {limit} "
                            "bytes are read.")
        chunks, size = [], 0
        while True:
            # no read buffer much larger than the file says it is (/proc says 0: 64 KiB steps)
            chunk = os.read(fd, min(CHUNK, limit + 1 - size, max(info.st_size + 1 - size, 1 << 16)))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise FileError(f"{path}: the {what} is over {limit} bytes; at most {limit} "
                                "bytes are read.")
        return b"".join(chunks)
    except OSError as exc:
        raise FileError(f"{path}: cannot read the {what}: {reason(exc)}.") from None
    finally:
        os.close(fd)


def decode_text(data: bytes, path, what: str = "file") -> str:
    """UTF-8 text (a byte-order mark dropped); UTF-16 or a bad byte is a ``FileError``
    naming the line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError(f"{path}: the {what} is UTF-16 text; save it as UTF-8.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise FileError(f"{path}: line {line}: not UTF-8 text (bad byte 0x{data[exc.start]:02x} "
                        f"at offset {exc.start}); save the {what} as UTF-8.") from None


def read_text_limited(path: str | Path, limit: int, what: str = "file") -> str:
    """``read_limited`` then ``decode_text``."""
    return decode_text(read_limited(path, limit, what), path, what)


def _path_errors(write):
    """An ``OSError`` while writing becomes a ``FileError`` naming the path and the reason
    (the temporary files are already removed by then)."""
    @functools.wraps(write)
    def writing(directory, files, *args, **kwargs):
        directory = Path(directory)
        for name in files:
            if (directory / name).is_dir():
                raise FileError(f"{directory / name}: is a folder; cannot write a file there.")
        try:
            return write(directory, files, *args, **kwargs)
        except FileExistsError as exc:
            raise FileError(f"{exc.filename or directory}: exists and is not a folder; "
                            "choose an output folder.") from None
        except OSError as exc:
            where = exc.filename2 if exc.filename2 and exc.errno == errno.EISDIR else \
                exc.filename if exc.filename and not str(exc.filename).endswith(".tmp") \
                else directory
            raise FileError(f"{where}: cannot write: {reason(exc)}; nothing was written.") from None
    return writing


# Temporary files are ".<name>.<pid>.<random>.tmp" beside their target: one left by a
# writer that is no longer running (killed mid-write) is removed by the next writer.
STRAY_SECONDS = 3600           # a temporary file without a pid: removed after an hour
SIGNALS = {getattr(signal, s) for s in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
           if hasattr(signal, s)}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                    # someone else's process
    return True


def remove_strays(path: Path) -> None:
    """Delete the temporary files of ``path`` whose writer is gone."""
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    prefix = f".{path.name}."
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        middle = entry.name[len(prefix):-len(".tmp")]
        match = re.fullmatch(r"([0-9]+)\.[^.]+", middle)
        try:
            if match:
                stale = int(match[1]) != os.getpid() and not _running(int(match[1]))
            else:                       # an older version's name: by age
                stale = time.time() - entry.stat().st_mtime > STRAY_SECONDS
            if stale:
                os.unlink(entry.path)
        except OSError:
            pass


@_path_errors
def write_files(directory: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Write a set of files (name → contents) into ``directory`` together: every file is
    written to a temporary file first, then all are renamed into place with SIGINT and
    SIGTERM held back, so an interrupted run leaves the old set or the new one, never
    a new ``.svg`` beside an old ``.md`` (SIGKILL cannot be held back: it can still fall
    between two renames, microseconds apart); a failure removes every temporary file, and
    those of earlier killed runs are removed too.  The paths written, in order."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    pending: list[tuple[str, Path]] = []
    held: dict = {}
    deferred: list[int] = []
    try:
        for name, data in files.items():
            path = directory / name
            remove_strays(path)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.{os.getpid()}.",
                                       suffix=".tmp")
            pending.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            # mkstemp makes the file 0600; give it the mode a plain open() would
            os.chmod(tmp, 0o666 & ~umask)
        held = _hold_signals(deferred)
        while pending:
            tmp, path = pending[0]
            os.replace(tmp, path)
            pending.pop(0)
    finally:
        for tmp, _ in pending:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        for sig, handler in held.items():
            signal.signal(sig, handler)
        for sig in deferred:               # delivered now, as it would have been
            os.kill(os.getpid(), sig)
    return [directory / name for name in files]


def _hold_signals(deferred: list[int]) -> dict:
    """Until the handlers returned are put back, SIGINT, SIGTERM … are only noted in
    ``deferred`` (main thread only: elsewhere Python cannot set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    held = {}
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        if previous is None:               # set outside Python: left alone
            continue
        signal.signal(sig, lambda signum, frame: deferred.append(signum))
        held[sig] = previous
    return held


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, so nothing is half-written."""
    path = Path(path)
    write_files(path.parent, {path.name: data})


PACKAGE = Path(__file__).resolve().parent.parent


def template_dirs() -> list[Path]:
    """Installed wheel: symbackprop/templates; source checkout or editable: ../templates."""
    return [d for d in (PACKAGE / "templates", PACKAGE.parent / "templates") if d.is_dir()]
