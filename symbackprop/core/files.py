"""Where the package's data lives, and writing output files so that nothing is half-written."""
from __future__ import annotations

import os
import re
import signal
import tempfile
import threading
import time
from pathlib import Path

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
