"""API keys: every /v1/ route needs one when QA_API_KEYS is set; the rest stays open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import bearer_token
from api.settings import Settings
from tests.conftest import SEEDS, error_body


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("keyed"),
        seed_paths=[SEEDS],
        background_load=False,
        api_keys="alpha, beta",  # type: ignore[arg-type]
        cors_origins=["http://intranet.example"],
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer ", None)],
)
def test_bearer_token(header: str, token: str | None) -> None:
    assert bearer_token(header) == token


REQUIRED = "an API key is required: send the header `Authorization: Bearer <key>`"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, REQUIRED),
        ({"Authorization": "Bearer gamma"}, "the API key is not valid"),
        ({"Authorization": "alpha"}, REQUIRED),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/documents"),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/no-such-route"),
    ],
)
def test_missing_or_wrong_key_is_401(
    keyed: TestClient, method: str, path: str, headers: dict[str, str], message: str
) -> None:
    response = keyed.request(method, path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_body(response) == {
        "error": {"code": "unauthorized", "message": message, "field": "authorization"}
    }


@pytest.mark.parametrize("key", ["alpha", "beta"])
def test_each_key_is_accepted(keyed: TestClient, key: str) -> None:
    response = keyed.get("/v1/documents", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/healthz", "/readyz", "/docs"])
def test_page_probes_and_docs_stay_open(keyed: TestClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


def test_cors_preflight_and_401_carry_cors_headers(keyed: TestClient) -> None:
    origin = "http://intranet.example"
    preflight = keyed.options(
        "/v1/chat/completions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    refused = keyed.get("/v1/models", headers={"Origin": origin})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == origin


def test_openapi_declares_the_bearer_scheme_only_when_keys_are_set(keyed: TestClient) -> None:
    spec = keyed.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {
        "api_key": {
            "type": "http",
            "scheme": "bearer",
            "description": "One of the keys in QA_API_KEYS.",
        }
    }
    assert spec["paths"]["/v1/ask"]["post"]["security"] == [{"api_key": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]
    open_spec = create_app(Settings(api_keys=[], background_load=True)).openapi()
    assert "securitySchemes" not in open_spec.get("components", {})
    assert "security" not in open_spec["paths"]["/v1/ask"]["post"]


def test_a_route_outside_the_middleware_still_needs_the_key() -> None:
    app = create_app(Settings(api_keys=["alpha"], background_load=True))
    # The security dependency alone (as if the middleware were not installed) gives the same 401.
    app.user_middleware = [m for m in app.user_middleware if m.cls.__name__ != "ApiKeyMiddleware"]
    with TestClient(app) as client:
        response = client.get("/v1/models")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_body(response) == {
        "error": {"code": "unauthorized", "message": REQUIRED, "field": "authorization"}
    }
