"""Stopping a server process a test started: politely, then for sure."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL if it has not ended within 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
