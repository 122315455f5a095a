from __future__ import annotations

import pytest
import yaml
from django.test import Client
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db(databases="__all__")

ORIGIN = "https://app.example.org"


def test_schema_is_a_valid_openapi_3_document(client: Client, capsys) -> None:
    response = client.get("/api/v1/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid document
    complaints = capsys.readouterr().err  # spectacular's own errors and warnings
    assert "Error" not in complaints
    assert "Warning" not in complaints
    paths = {path.rstrip("/") for path in schema["paths"]}
    assert {"/api/v1", "/api/v1/health", "/api/v1/health/ready", "/api/v1/health/live"} <= paths


def test_schema_is_served_as_json_on_request(client: Client) -> None:
    response = client.get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Men's Circle API"


def test_docs_are_404_with_debug_off(client: Client) -> None:
    response = client.get("/api/v1/docs/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_docs_render_from_our_own_static_files_with_debug_on(client: Client, settings) -> None:
    settings.DEBUG = True

    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn." not in response.content
    assert b"/static/drf_spectacular_sidecar/" in response.content


def preflight(client: Client, path: str, origin: str = ORIGIN):
    return client.options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")


def test_cors_preflight_from_a_configured_origin_is_allowed_on_the_api(
    client: Client, settings
) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]

    response = preflight(client, "/api/v1/")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_cors_is_not_offered_outside_the_api(client: Client, settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]

    response = preflight(client, "/")

    assert "Access-Control-Allow-Origin" not in response


def test_cors_refuses_origins_not_configured(client: Client, settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]

    response = preflight(client, "/api/v1/", origin="https://evil.example.com")

    assert "Access-Control-Allow-Origin" not in response


def test_cors_allows_no_origin_by_default(client: Client) -> None:
    response = preflight(client, "/api/v1/")

    assert "Access-Control-Allow-Origin" not in response
