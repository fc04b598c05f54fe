"""Uploaded files with Redis: a file uploaded to one app process opens from its link on every
other one (each has its own DATA_DIR, as on separate machines, and none is used), is kept while
it is used, and a link to a file Redis no longer has opens with a clear message, never a 5xx."""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import numpy as np
import pytest
import redis

from app.config import ConfigError
from app.csv_data import MAX_CSV_BYTES
from app.datastore import DataStore, DiskDataStore
from app.redis_store import RedisDataStore
from app.settings import Settings
from engine.datasets import dataset_from_arrays
from tests.api.test_classroom import page_state
from tests.cluster import APPS, Cluster

POINTS = np.random.default_rng(11).uniform(-5, 5, size=(60, 2))
CSV = "x1,x2,label\n" + "".join(f"{a!r},{b!r},{int(a * b > 0)}\n" for a, b in POINTS.tolist())
TTL_SECONDS = Settings().data_ttl_days * 24 * 3600
MISSING = "this server does not have the data of this link"


@pytest.fixture
def apps(cluster: Cluster) -> Iterator[list[httpx.Client]]:
    """A client for each app process itself, not through nginx."""
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) for port in cluster.app_ports]
    yield clients
    for client in clients:
        client.close()


@pytest.fixture
def store(cluster: Cluster) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(cluster.redis_url)
    yield client
    client.close()


def _upload(app: httpx.Client) -> dict[str, Any]:
    session = app.post("/api/sessions", json={"dataset": "xor"}).json()["id"]
    answer = app.post(f"/api/sessions/{session}/data", content=CSV, headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    return {"session": session, **answer.json()}


def test_a_file_uploaded_to_one_process_opens_from_its_link_on_every_other(cluster, apps, client, store) -> None:
    uploaded = _upload(apps[0])
    digest = uploaded["config"]["data"]
    key = f"pg:data:{digest}"
    assert 0 < store.ttl(key) <= TTL_SECONDS
    assert not any(cluster.data_dir(i).exists() and any(cluster.data_dir(i).rglob("*.csv")) for i in range(APPS))
    store.expire(key, 100)
    for app in (*apps[1:], client):  # the other two processes, and whichever nginx picks
        page = app.get(f"/?{uploaded['query']}&lang=en")
        assert page.status_code == 200 and "Training on the data you uploaded" in page.text and MISSING not in page.text
        opened = app.post("/api/sessions", json=uploaded["config"])
        assert opened.status_code == 201, opened.text
        assert opened.json()["data"] == uploaded["data"]  # the same points, the same split
    assert store.ttl(key) > TTL_SECONDS - 60  # opening it kept it for another DATA_TTL_DAYS


def test_a_link_to_an_expired_file_opens_with_a_message_not_an_error(cluster, apps, client, store) -> None:
    uploaded = _upload(apps[0])
    key = f"pg:data:{uploaded['config']['data']}"
    opened = apps[1].get(f"/?{uploaded['query']}&lang=en")  # a page not yet played: no trainer of its own
    store.delete(key)  # what its expiry does
    page = apps[1].get(f"/?{uploaded['query']}&lang=en")
    assert page.status_code == 200 and MISSING in page.text and "Training on the data you uploaded" not in page.text
    page = apps[1].get(f"/?{uploaded['query']}&lang=es")
    assert page.status_code == 200 and "este servidor no tiene los datos de este enlace" in page.text
    created = client.post("/api/sessions", json=uploaded["config"])
    assert created.status_code == 409 and created.json()["detail"][0]["field"] == "data"
    # The opened page's next change, on a process that has not seen it, rebuilds it from the form
    # and says why the data is not there.
    fields = httpx.QueryParams(uploaded["query"])
    form = {**{name: fields.get_list(name) for name in fields}, "lang": "en"}
    sid = page_state(opened.text)["sid"]
    changed = apps[2].post(f"/s/{sid}/config", data=form, headers={"HX-Request": "true"})
    assert changed.status_code == 200 and MISSING in changed.text
    assert store.exists(key) == 0


def test_a_session_that_trained_on_an_expired_file_stores_it_again(cluster, apps, client, store) -> None:
    uploaded = _upload(apps[0])
    key = f"pg:data:{uploaded['config']['data']}"
    store.delete(key)
    for app in apps[1:]:  # processes that had not kept the session: they load it, data and all
        answer = app.get(f"/api/sessions/{uploaded['session']}")
        assert answer.status_code == 200 and answer.json()["config"]["data"] == uploaded["config"]["data"]
    assert 0 < store.ttl(key) <= TTL_SECONDS  # back from the session's own copy of its rows
    assert client.post("/api/sessions", json=uploaded["config"]).json()["data"] == uploaded["data"]


def test_a_full_redis_refuses_an_upload_with_503_not_an_error(client, store) -> None:
    session = client.post("/api/sessions", json={}).json()["id"]
    policy, limit = store.config_get("maxmemory-policy")["maxmemory-policy"], store.config_get("maxmemory")["maxmemory"]
    store.config_set("maxmemory-policy", "noeviction")
    store.config_set("maxmemory", 1)  # full: nothing may be written
    try:
        answer = client.post(f"/api/sessions/{session}/data", content=CSV, headers={"content-type": "text/csv"})
    finally:
        store.config_set("maxmemory", limit)
        store.config_set("maxmemory-policy", policy)
    assert answer.status_code == 503 and "cannot store uploaded data" in answer.json()["detail"]


def test_a_stored_set_is_at_most_an_uploaded_file_wherever_it_lives(cluster, tmp_path) -> None:
    rows = MAX_CSV_BYTES // 20  # about twice the limit: a model file may carry a set larger than any upload
    big = dataset_from_arrays(np.random.default_rng(1).uniform(-5, 5, (rows, 2)), np.arange(rows) % 2, "binary")
    stores: list[DataStore] = [DiskDataStore(tmp_path), RedisDataStore(cluster.redis_url, 60)]
    for store in stores:
        with pytest.raises(ConfigError) as refused:
            store.put(big)
        assert refused.value.errors[0].code == "file_too_big"
        digest = store.put(dataset_from_arrays(POINTS, (POINTS[:, 0] > 0).astype(int), "binary"))
        assert np.array_equal(store.get(digest).x, POINTS)
    assert not any(tmp_path.rglob("*.part"))


@pytest.mark.parametrize(("value", "days"), [("", 30), ("7", 7), ("0", None), ("a week", None)])
def test_data_ttl_days_is_a_whole_number_of_days(monkeypatch, value: str, days: int | None) -> None:
    monkeypatch.setenv("DATA_TTL_DAYS", value)
    if days is None:
        with pytest.raises(ValueError, match="DATA_TTL_DAYS"):
            Settings.from_env()
    else:
        assert Settings.from_env().data_ttl_days == days
