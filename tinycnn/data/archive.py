"""Reading archives and pickles safely.

A downloaded or user-supplied file is untrusted. Tar members whose path leaves the target folder (absolute
paths, ``..``) and links are refused, and the official CIFAR-10 pickles are read with an unpickler that only
allows the few types those files contain, so a malicious pickle raises instead of running code.
"""
import io
import os
import pickle
import tarfile


class UnsafeArchiveError(ValueError):
    """An archive member that could write outside its folder, or a link."""


def check_member(member, archive):
    """Refuse links, devices and paths that leave the archive's folder; return the member's normalised path."""
    name = member.name
    parts = name.replace("\\", "/").split("/")
    if os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} has a path that leaves the target folder")
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"{archive}: member {name!r} is a link, which is not allowed")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"{archive}: member {name!r} is not a regular file or folder")
    return "/".join(p for p in parts if p not in ("", "."))


def iter_files(path):
    """(normalised name, bytes) of every regular file in a .tar/.tar.gz, checking each member first."""
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                name = check_member(member, path)
                if member.isfile():
                    yield name, tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"{path}: not a readable tar archive ({error}); the file may be truncated or "
                         "corrupt: delete it and try again") from error


def safe_extract(path, dest):
    """Extract a tar archive into dest after checking every member (see check_member)."""
    try:
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member, path)
            tar.extractall(dest, members=members)
    except (tarfile.TarError, EOFError) as error:
        raise ValueError(f"{path}: not a readable tar archive ({error}); the file may be truncated or "
                         "corrupt: delete it and try again") from error


class RestrictedUnpickler(pickle.Unpickler):
    """Only what CIFAR-10's pickles hold: dicts, lists, bytes, numbers, and NumPy arrays rebuilt from bytes."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays, "
                                     "lists and bytes")


def restricted_load(data, source):
    """Unpickle bytes from ``source`` (a file name, for messages) with RestrictedUnpickler."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as error:
        raise ValueError(f"{source}: {error}") from error
    except (EOFError, ValueError, TypeError) as error:
        raise ValueError(f"{source}: not a valid CIFAR-10 batch ({error}); the file may be truncated") from error
