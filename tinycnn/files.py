"""Writing files so that an interruption never leaves a broken one."""
import os
import tempfile

_UMASK = os.umask(0)          # the process's umask, read once (reading it means setting it)
os.umask(_UMASK)


def atomic_write(path, write):
    """Call ``write(f)`` on a temporary file beside ``path``, flush it to disk, then rename it to ``path``.
    Readers see the old file or the new one, never half of one; on any failure the temporary file is removed.
    Each call has a temporary file of its own, so processes writing the same path at once (two runs filling
    the same data cache) each rename a whole file, and the last one stays."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)                   # mkstemp's file is private (0600); make it an ordinary one
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path

