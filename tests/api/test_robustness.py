"""A classroom is hard on a server: hand-edited links, a hundred open tabs, a restart mid-lesson.
None of them may break a student's page."""

from __future__ import annotations

import gc
import re
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.catalogue_en import EN
from app.config import PlaygroundConfig
from app.main import create_app
from app.settings import Settings
from engine.trainer import Trainer

from .test_classroom import form_values, page_state

FIELDS = tuple(PlaygroundConfig.model_fields)
BOOL_FIELDS = tuple(name for name, f in PlaygroundConfig.model_fields.items() if f.annotation is bool)
NOTE = EN["notes.ignored"]
TRICKY = ("", "0", "-1", "1e999", "nan", "inf", "-0", "4,,2", "9,9,9,9,9,9,9", "x1,x1", "ｘ１", "%zz", "'\"<>",
          "1" * 400, "\x00", "tanh ", " 0.03", "0x10", "true", "1,2,3,4,5,6,7,8", "lesson_links,lesson_links")
garbage = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
value = st.one_of(st.sampled_from(TRICKY), garbage)
key = st.one_of(st.sampled_from((*FIELDS, "lang", "problem", "host", "sid")), garbage)
pairs = st.lists(st.tuples(key, value), max_size=8)
raw_query = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)
PAGES_OF_A_TEST = 100_000  # a client that opens pages faster than any student (the limit: test_fairness.py)
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_page(answer) -> None:
    assert answer.status_code == 200, answer.text[:500]
    assert 'id="playground-state"' in answer.text


def test_garbage_query_strings_always_open_a_page() -> None:
    with TestClient(create_app(Settings(page_opens_per_minute=PAGES_OF_A_TEST))) as client:

        @HYPOTHESIS
        @given(items=pairs)
        def structured(items: list[tuple[str, str]]) -> None:
            _assert_page(client.get("/", params=items))

        @HYPOTHESIS
        @given(raw=raw_query)
        def raw(raw: str) -> None:
            _assert_page(client.get("/?" + quote(raw, safe="=&,;%+")))

        structured()
        raw()


def test_a_bad_value_is_reported_on_the_page() -> None:
    with TestClient(create_app(Settings(page_opens_per_minute=PAGES_OF_A_TEST))) as client:

        @HYPOTHESIS
        @given(name=st.sampled_from([f for f in FIELDS if f not in BOOL_FIELDS]), junk=garbage)
        def check(name: str, junk: str) -> None:
            answer = client.get("/", params={name: "zz" + junk.replace(",", "")})
            _assert_page(answer)
            assert NOTE in answer.text

        check()


def test_garbage_forms_never_break_the_playground() -> None:
    with TestClient(create_app(Settings())) as client:
        sid = page_state(client.get("/").text)["sid"]

        @HYPOTHESIS
        @given(items=pairs)
        def check(items: list[tuple[str, str]]) -> None:
            form: dict[str, list[str]] = {}
            for k, v in items:
                form.setdefault(k, []).append(v)
            for target in (sid, "no-such-session"):
                answer = client.post(f"/s/{target}/config", data=form)
                assert answer.status_code == 200 and 'id="playground-state"' in answer.text

        check()


def _trainers() -> int:
    gc.collect()
    return sum(type(obj) is Trainer for obj in gc.get_objects())  # type(): no attribute lookups


def test_a_hundred_open_tabs_evict_the_oldest_and_memory_stays_bounded() -> None:
    # (opened pages hold no trainer)
    app = create_app(Settings(max_sessions=50, max_unstarted_sessions=50, page_opens_per_minute=PAGES_OF_A_TEST))
    store = app.state.sessions
    baseline = _trainers()  # (earlier tests may still hold a few)
    with TestClient(app) as client:
        sids = [page_state(client.get(f"/?seed={i}&lang=en").text)["sid"] for i in range(120)]
        assert len(store) == 50
        assert all(store.get(sid) is None for sid in sids[:70]) and all(store.get(sid) for sid in sids[70:])
        assert _trainers() - baseline <= 52  # the evicted sessions' trainers were freed
        for i in range(40):
            client.get(f"/playground?seed={i}")
        assert len(store) == 50 and _trainers() - baseline <= 52
        # a new tab still works, and so does the oldest tab: its next change rebuilds it
        _assert_page(client.get("/?dataset=xor"))
        old = client.get("/?seed=1&lang=en")  # (a fresh page, to read a form to post)
        answer = client.post(f"/s/{sids[0]}/config", data=form_values(old.text))
        assert answer.status_code == 200 and EN["js.expired"] in answer.text
        step = client.post(f"/api/sessions/{page_state(answer.text)['sid']}/step", json={"epochs": 5})
        assert step.status_code == 200 and step.json()["epoch"] == 5


def test_a_restarted_server_rebuilds_pages_from_their_form_and_url() -> None:
    query = "dataset=xor&layers=3&lr=0.1&hide=noise&lang=es"
    with TestClient(create_app(Settings())) as before:
        page = before.get(f"/?{query}").text
        old = page_state(page)
    with TestClient(create_app(Settings())) as after:  # a new process: no sessions at all
        assert after.post(f"/api/sessions/{old['sid']}/step", json={"epochs": 1}).status_code == 404
        # a change posted from the old page: a new session from what the form says
        answer = after.post(f"/s/{old['sid']}/config", data=form_values(page))
        assert answer.status_code == 200
        assert "olvidado" in answer.text  # the Spanish "expired" message
        assert answer.headers["HX-Replace-Url"] == f"/?{old['query']}&lang=es"
        assert page_state(answer.text)["sid"] != old["sid"]
        # the page's JS, on a 404 from the API, fetches /playground?<its URL>
        rebuilt = after.get(f"/playground?{old['query']}&lang=es")
        assert rebuilt.status_code == 200 and rebuilt.text.lstrip().startswith("<form id=\"playground\"")
        state = page_state(rebuilt.text)
        assert state["query"] == old["query"] and state["messages"]["expired"]
        assert re.search(r'name="noise" value="0"', rebuilt.text)  # still hidden, still posted
