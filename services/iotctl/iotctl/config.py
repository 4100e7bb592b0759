"""Where iotctl keeps the gateway URL and API key, and how it writes them without leaking the key.

The file is JSON, `{"api_url": ..., "api_key": ...}`, at `$IOTCTL_CONFIG`, else
`$XDG_CONFIG_HOME/iotctl/config.json`, else `~/.config/iotctl/config.json`. It is written to a
temporary file in the same directory, which `mkstemp` creates with mode 0600 (so the key is
never readable by others, not even for an instant), then renamed over the old file, so a crash
or a full disk never leaves a half-written configuration behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from iotctl.errors import AuthError, warn

DEFAULT_API_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class StoredConfig:
    """What `iotctl login` stored; both fields may be missing."""

    api_url: str | None = None
    api_key: str | None = None


def config_path() -> Path:
    """The configuration file's location, following the environment as documented."""
    explicit = os.environ.get("IOTCTL_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    # The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "iotctl" / "config.json"


def load(path: Path) -> StoredConfig:
    """Read the stored configuration; a missing file is an empty configuration.

    A file others may read still works (the key is already exposed; refusing would only stop
    the operator), but earns a warning that says how to fix it.
    """
    try:
        with open(path, encoding="utf-8") as file:
            mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
            text = file.read()
    except FileNotFoundError:
        return StoredConfig()
    except OSError as error:  # unreadable, or a directory
        raise AuthError(f"cannot read the config file {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise AuthError(
            f"the config file {path} is not UTF-8 text; run `iotctl login` again"
        ) from error
    if mode & 0o077:
        warn(
            f"the config file {path} is accessible by other users (mode {mode:04o}); "
            f"run: chmod 600 {path}"
        )
    try:
        document = json.loads(text)
    except ValueError as error:
        raise AuthError(
            f"the config file {path} is not valid JSON ({error}); run `iotctl login` again"
        ) from error
    if not isinstance(document, dict):
        raise AuthError(f"the config file {path} is not a JSON object; run `iotctl login` again")
    return StoredConfig(
        api_url=_string_or_none(document.get("api_url")),
        api_key=_string_or_none(document.get("api_key")),
    )


def save(path: Path, config: StoredConfig) -> None:
    """Write the configuration atomically with mode 0600, in a directory of mode 0700."""
    directory = path.parent
    if not directory.exists():
        # Only the last level is ours to restrict; parents such as ~/.config keep the default.
        directory.mkdir(mode=0o700, parents=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    elif not os.environ.get("IOTCTL_CONFIG"):
        # Our own .../iotctl directory; one chosen with IOTCTL_CONFIG (/tmp, say) is left alone.
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)
    document = {key: value for key, value in vars(config).items() if value is not None}
    data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every file system lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _string_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
