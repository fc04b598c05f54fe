"""`python -m app`: serve the playground with uvicorn, configured from the environment."""

import os

# Each request trains a tiny network: one BLAS thread per request is fastest, and with many
# students at once, multi-threaded BLAS on a 2-core laptop only fights itself (a 100×100 snapshot
# went from 0.3 ms to 40 ms with the other core busy). Set before NumPy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import uvicorn  # noqa: E402

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402

# The frame stream is not compressed (docs/api.md, "The frame stream"): uvicorn would otherwise
# agree to permessage-deflate with every browser, and deflating each frame in the one server
# process that speaks for all students cost 0.17 ms of its CPU a frame (0.95 ms a frame in all
# against 0.76 ms, benchmarks/bench_server.py), for frames of 9 kB instead of 5 kB.
SERVER_OPTIONS = {"ws_per_message_deflate": False}

if __name__ == "__main__":  # worker processes ("spawn") import this module again: no server there
    settings = Settings.from_env()
    if settings.redis_url and settings.workers > 1:
        # Sessions in Redis: WORKERS whole app processes share the port, each training its
        # requests itself (docs/scale-out.md); each builds its app from the environment.
        uvicorn.run("app.main:create_app", factory=True, workers=settings.workers,
                    host=settings.host, port=settings.port, log_level=settings.log_level, **SERVER_OPTIONS)
    else:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level,
                    **SERVER_OPTIONS)
