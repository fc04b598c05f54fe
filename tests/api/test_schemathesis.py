"""The API keeps its own OpenAPI document: schemathesis generates requests from /openapi.json,
valid and invalid, one operation at a time and in sequences that follow the schema's links
(create a session, then step, change, edit and delete it), and runs every one of its checks on
every answer. Deterministic (derandomized) and a few hundred cases, so it runs in `make test`."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import create_app
from app.settings import Settings

# One test client makes every request: the per-client limits on starting sessions (which depend on
# the clock) would make runs differ, so they are lifted here; tests/api test them on their own.
UNLIMITED = 10**6
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings(
    workers=0, max_sessions_per_client=UNLIMITED, session_starts_per_minute=UNLIMITED)))


@schema.hook
def filter_body(context: schemathesis.HookContext, body: object) -> bool:
    """Drawn points and uploaded data (``points``, ``data``) are an encoding and a stored file's
    hash: what makes them valid (a decodable set of the configuration's problem, a file this server
    holds) is more than a JSON schema can say, so generated bodies leave them out;
    tests/api/test_data.py and test_points.py test them."""
    return not (isinstance(body, dict) and (body.get("points") is not None or body.get("data") is not None))


SETTINGS = dict(derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))


# A CSV upload is one text/csv string to the schema, a model file an object with a trainer state:
# what makes a file good (its rows and classes; parameters that fit the network) is more than a
# schema can say, so a schema-valid body may be a bad file. Every other check still runs on them;
# tests/api/test_data.py and test_model_file.py test the files themselves.
FILE_UPLOADS = {("POST", "/api/sessions/{id}/data"), ("POST", "/api/sessions/{id}/model")}


def _excluded(case: schemathesis.Case) -> list[Any]:
    return [positive_data_acceptance] if (case.operation.method.upper(), case.operation.path) in FILE_UPLOADS else []


@schema.parametrize()
@settings(max_examples=40, **SETTINGS)
def test_each_operation_keeps_the_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=_excluded(case))


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    def validate_response(self, response: Any, case: schemathesis.Case, additional_checks: Any = None,
                          **kwargs: Any) -> None:
        case.validate_response(response, additional_checks=additional_checks, excluded_checks=_excluded(case),
                               transport_kwargs=kwargs or None, recorder=self.recorder)


TestWorkflowsKeepTheSchema = Workflow.TestCase
TestWorkflowsKeepTheSchema.settings = settings(max_examples=60, stateful_step_count=8, **SETTINGS)
