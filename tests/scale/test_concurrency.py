"""Many clients stepping one session through nginx, on three app processes: the steps take turns
through the session's lock in Redis, never interleave, and end where one process would."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import numpy as np

from app.config import validate_config
from engine.trainer import Trainer
from tests.cluster import Cluster

CLIENTS = 20
STEPS_EACH = 3
CONFIG = {"dataset": "xor", "layers": [4, 3], "optimizer": "adam", "lr": 0.03, "seed": 5}


def test_twenty_clients_stepping_one_session_never_interleave(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        session = client.post("/api/sessions", json=CONFIG).json()["id"]
    answers: list[dict[str, Any]] = []
    refusals: list[int] = []
    start = threading.Barrier(CLIENTS)

    def student() -> None:
        with httpx.Client(base_url=cluster.url, timeout=30) as own:
            start.wait()
            done = 0
            while done < STEPS_EACH:
                answer = own.post(f"/api/sessions/{session}/step", json={"epochs": 1, "grid": 10})
                if answer.status_code == 429:  # the session has a request under way and one waiting
                    refusals.append(429)
                    time.sleep(0.01)
                    continue
                assert answer.status_code == 200, answer.text
                answers.append(answer.json())
                done += 1

    threads = [threading.Thread(target=student) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    total = CLIENTS * STEPS_EACH
    assert len(answers) == total
    # Each step trained one epoch on the state the step before it left: the epochs answered are
    # 1, 2, ..., total, each once, and each with the history of exactly its own epoch.
    assert sorted(a["epoch"] for a in answers) == list(range(1, total + 1))
    assert all(a["epochs_run"] == 1 and a["iteration"] == a["epoch"] * 25 for a in answers)  # 250 points, batch 10
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        model = client.get(f"/api/sessions/{session}/model").json()["trainer"]
    alone = Trainer(validate_config(CONFIG).to_setup())
    for _ in range(total):
        alone.step(1)
    assert model["epoch"] == total
    assert np.array_equal(model["params"], alone.network.params)  # as one process would, bit for bit
    assert model["history"]["train_loss"] == list(alone.history.train_loss)
