"""The API keeps its own OpenAPI document: schemathesis generates requests from /openapi.json,
valid and invalid, one operation at a time and in sequences that follow the schema's links
(create a session, then step, change, edit and delete it), and runs every one of its checks on
every answer. Deterministic (derandomized) and a few hundred cases, so it runs in `make test`."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from app.main import create_app
from app.settings import Settings

# One test client makes every request: the per-client limits on starting sessions (which depend on
# the clock) would make runs differ, so they are lifted here; tests/api test them on their own.
UNLIMITED = 10**6
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings(
    workers=0, max_sessions_per_client=UNLIMITED, session_starts_per_minute=UNLIMITED)))
SETTINGS = dict(derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@schema.parametrize()
@settings(max_examples=40, **SETTINGS)
def test_each_operation_keeps_the_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()


Workflow = schema.as_state_machine()
TestWorkflowsKeepTheSchema = Workflow.TestCase
TestWorkflowsKeepTheSchema.settings = settings(max_examples=60, stateful_step_count=8, **SETTINGS)
