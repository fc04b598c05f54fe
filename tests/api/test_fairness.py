"""Fairness between the clients of a class: one address cannot push other students' sessions
out, by creating sessions or by opening pages."""

from __future__ import annotations

import asyncio
import gc

from fastapi.testclient import TestClient

from app.config import PlaygroundConfig
from app.main import create_app
from app.security import ClientTurns, RateLimit
from app.sessions import InMemorySessionStore
from app.settings import Settings
from app.trainers import Request, _FairQueue
from engine.trainer import Trainer

from .test_classroom import page_state


def _clients(settings: Settings, *addresses: str) -> list[TestClient]:
    """Clients of one app from different addresses (no lifespan: the store lives in the app)."""
    app = create_app(settings)
    return [TestClient(app, client=(address, 50000)) for address in addresses]


def _student_session(client: TestClient) -> str:
    sid = client.post("/api/sessions", json={"dataset": "xor"}).json()["id"]
    assert client.post(f"/api/sessions/{sid}/step", json={"epochs": 2}).status_code == 200
    return sid


def test_one_client_creating_many_sessions_evicts_only_its_own() -> None:
    student, abuser = _clients(Settings(max_sessions=30, session_starts_per_minute=1000), "10.0.0.1", "10.0.0.2")
    sid = _student_session(student)
    created = [abuser.post("/api/sessions", json={}) for _ in range(60)]
    assert all(answer.status_code == 201 for answer in created)
    assert student.post(f"/api/sessions/{sid}/step", json={"epochs": 1}).json()["epoch"] == 3
    held = Settings().max_sessions_per_client
    alive = [abuser.get(f"/api/sessions/{a.json()['id']}").status_code for a in created]
    assert alive == [404] * (60 - held) + [200] * held  # its own least recently used went


def test_creating_sessions_is_limited_per_client() -> None:
    student, abuser = _clients(Settings(session_starts_per_minute=5), "10.0.0.1", "10.0.0.2")
    answers = [abuser.post("/api/sessions", json={}) for _ in range(7)]
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 2
    assert int(answers[-1].headers["retry-after"]) in range(1, 13) and "too many" in answers[-1].json()["detail"]
    assert student.post("/api/sessions", json={}).status_code == 201  # others are not affected


def test_opening_pages_costs_no_trainer_and_evicts_no_student() -> None:
    student, abuser = _clients(Settings(max_sessions=20, max_unstarted_sessions=50, page_opens_per_minute=1000),
                               "10.0.0.1", "10.0.0.2")
    sid = _student_session(student)
    gc.collect()
    trainers_before = sum(type(o) is Trainer for o in gc.get_objects())
    for i in range(120):
        assert abuser.get(f"/?seed={i}").status_code == 200
    gc.collect()
    assert sum(type(o) is Trainer for o in gc.get_objects()) - trainers_before <= 32  # the shared previews
    assert student.post(f"/api/sessions/{sid}/step", json={"epochs": 1}).json()["epoch"] == 3
    # a page opened without a trainer plays from the very frame it showed
    page = page_state(abuser.get("/?dataset=spiral&seed=3").text)
    first = abuser.post(f"/api/sessions/{page['sid']}/step", json={"epochs": 1, "since": -1}).json()
    assert first["epoch"] == 1 and first["history"]["train_loss"][0] == page["frame"]["history"]["train_loss"][0]


def test_opening_pages_is_limited_per_client() -> None:
    """Each page is rendered by the server process that relays every student's frames."""
    student, abuser = _clients(Settings(page_opens_per_minute=3), "10.0.0.1", "10.0.0.2")
    answers = [abuser.get(path, headers={"accept-language": "en"}) for path in ("/?seed=1", "/", "/lessons/2", "/")]
    assert [a.status_code for a in answers] == [200] * 3 + [429]
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) in range(1, 21) and "Many pages were opened" in refused.text
    assert f'http-equiv="refresh" content="{refused.headers["retry-after"]}"' in refused.text  # it opens by itself
    rebuilt = abuser.get("/playground?seed=1", headers={"hx-request": "true"})  # the page's own request
    assert rebuilt.status_code == 200 and rebuilt.headers["hx-refresh"] == "true"
    assert student.get("/").status_code == 200  # others are not affected


def test_a_rate_limit_refills_at_its_rate() -> None:
    now = [0.0]
    limit = RateLimit(6, clock=lambda: now[0])  # one every 10 s, six at once
    assert [limit.take("a") for _ in range(7)] == [None] * 6 + [10]
    assert limit.take("b") is None
    now[0] = 5.0
    assert limit.take("a") == 5
    now[0] = 10.0
    assert limit.take("a") is None and limit.take("a") == 10


def test_eviction_takes_from_whoever_holds_the_most() -> None:
    store = InMemorySessionStore(60, 4)
    config = PlaygroundConfig()

    def started(owner: str):
        session = store.create(config, owner=owner)
        session.start()
        return session

    first_a = started("a")
    held_by_b = [started("b") for _ in range(3)]
    started("c")  # five started: b, holding three, loses its oldest
    assert store.get(first_a.id) is first_a
    assert [store.get(s.id) is not None for s in held_by_b] == [False, True, True]


def test_a_worker_is_shared_by_the_time_each_client_used() -> None:
    """A client whose requests cost much waits while clients whose requests cost little go."""
    queue = _FairQueue()
    heavy = [Request(f"h{i}", "step_json", {}, owner="heavy") for i in range(3)]
    for request in heavy:
        queue.put(request)
    light = Request("l0", "step_json", {}, owner="light")
    queue.put(light)
    assert queue.get() == (heavy[0], True)
    queue.charge("heavy", 0.5)
    served = []
    for i in range(1, 4):  # the light client asks again after each answer: it goes first
        assert queue.get()[0].owner == "light"
        queue.charge("light", 0.01)
        queue.put(Request(f"l{i}", "step_json", {}, owner="light"))
        served.append(i)
    assert served == [1, 2, 3]
    assert queue.get()[0].owner == "light"  # still under the heavy client's half second


def test_a_client_has_at_most_its_turns_of_requests_at_work() -> None:
    """Its other requests wait, unread, while other clients' go straight in."""
    entered: list[str] = []
    release = asyncio.Event()

    async def app(scope, receive, send) -> None:
        entered.append(scope["path"])
        await release.wait()

    turns = ClientTurns(app, limit=2)

    def request(client: str, path: str):
        return turns({"type": "http", "path": path, "client": (client, 1)}, None, None)

    async def run() -> None:
        tasks = [asyncio.create_task(request("10.0.0.2", f"/api/{i}")) for i in range(4)]
        tasks.append(asyncio.create_task(request("10.0.0.1", "/api/student")))
        tasks.append(asyncio.create_task(request("10.0.0.2", "/healthz")))  # takes no turn
        await asyncio.sleep(0.01)
        assert entered == ["/api/0", "/api/1", "/api/student", "/healthz"]
        release.set()
        await asyncio.gather(*tasks)
        assert entered[4:] == ["/api/2", "/api/3"]  # in the order they came
        assert not turns._turns  # idle clients keep nothing

    asyncio.run(run())
