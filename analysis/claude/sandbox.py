"""Bubblewrap around the CLI: a second fence behind the permission flags.

Inside, the CLI sees the system libraries, its own binary, the checkout (read-only), its
private home and nothing else of the host: no other job's folder, no worker code or
settings, no other process (a pid namespace of its own, so no /proc/<pid>/environ of the
worker either). The network stays shared, as the API must be reached.

Its /proc is a new one, and the kernel mounts a new proc only where nothing of the
current one is hidden: in a container, that needs the runtime's masks lifted
(``--security-opt unmask=/proc/*`` under podman, docs/CLAUDE.md). The sandbox puts those
masks back on its own /proc, so the CLI sees no more of the host than under the
runtime's defaults; only the worker's own processes, outside, see the unmasked entries.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# What a dynamically linked binary needs to load, and what name resolution and TLS read.
_LIBRARY_DIRS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32")
_SYSTEM_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl/certs")
# What container runtimes mask in /proc by default (runc's and podman's lists): the
# host's kernel memory, keys, timers and scheduler state of every task, and hardware.
# Files are covered with /dev/null (mounted nodev, so reading fails), folders with an
# empty tmpfs. Entries this kernel does not have are skipped.
PROC_MASKED_FILES = (
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/interrupts",
)
PROC_MASKED_DIRS = ("/proc/acpi", "/proc/scsi")


def _mask_proc() -> list[str]:
    args: list[str] = []
    for path in PROC_MASKED_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    for path in PROC_MASKED_DIRS:
        if os.path.isdir(path):
            args += ["--tmpfs", path]
    return args


def _bind_system() -> list[str]:
    args: list[str] = []
    for path in _LIBRARY_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _SYSTEM_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def resolve_bin(cli: str) -> str:
    """The CLI's real path (a name on PATH and symlinks followed): bound as a file."""
    found = shutil.which(cli) or cli
    return str(Path(found).resolve())


def wrap(
    argv: list[str],
    *,
    bwrap: str,
    checkout: Path,
    home: Path,
    extra_ro: tuple[str, ...] = (),
) -> list[str]:
    """``argv`` run by bubblewrap; ``argv[0]`` must already be the CLI's real path."""
    cli = argv[0]
    cmd = [bwrap, "--unshare-all", "--share-net", "--die-with-parent"]
    # A fresh /tmp inside the sandbox, never the host's. It comes before every bind:
    # bubblewrap mounts in order, so a bind under /tmp made earlier (a CLI installed in a
    # checkout of this project under /tmp, a TEMP_DIR there) would be hidden by it.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108
    cmd += _mask_proc()
    cmd += _bind_system()
    cmd += ["--ro-bind", cli, cli]
    for path in extra_ro:
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--ro-bind", str(checkout), str(checkout)]
    cmd += ["--bind", str(home), str(home)]
    cmd += ["--chdir", str(checkout), "--"]
    return cmd + argv
