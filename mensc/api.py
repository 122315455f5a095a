"""The API root and the health URLs the load balancer watches."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mensc import health


class PublicView(APIView):
    # No authentication at all: a probe carries no credentials, and reading a
    # session would cost a query on every probe.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class ApiRootView(PublicView):
    @extend_schema(
        responses=inline_serializer(
            "ApiRoot", {"message": serializers.CharField(), "version": serializers.CharField()}
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            {"message": "Welcome to Men's Circle Management Platform", "version": settings.VERSION}
        )


_dependency = inline_serializer(
    "DependencyStatus",
    {"status": serializers.ChoiceField(["up", "down"]), "latency_ms": serializers.FloatField()},
)


class HealthView(PublicView):
    @extend_schema(
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {
                    "status": serializers.ChoiceField(["healthy", "unhealthy"]),
                    "service": serializers.CharField(),
                    "version": serializers.CharField(),
                    "database": _dependency,
                    "credentials_database": _dependency,
                    "cache": _dependency,
                },
            ),
            (503, "application/json"): OpenApiResponse(
                description="The same report, when a dependency is down."
            ),
        },
        description="Every dependency with its latency; 503 when any is down.",
    )
    def get(self, request: Request) -> Response:
        healthy, body = health.report()
        return Response(body, status=200 if healthy else 503)


class ReadyView(PublicView):
    @extend_schema(
        responses={
            200: inline_serializer("Ready", {"status": serializers.CharField()}),
            503: inline_serializer(
                "NotReady",
                {
                    "status": serializers.CharField(),
                    "down": serializers.ListField(child=serializers.CharField()),
                },
            ),
        },
        description="200 when both databases answer; a cache outage does not make it 503.",
    )
    def get(self, request: Request) -> Response:
        checks = health.databases_ready()
        down = [name for name, check in checks.items() if not check.up]
        if down:
            return Response({"status": "unavailable", "down": down}, status=503)
        return Response({"status": "ready"})


class LiveView(PublicView):
    @extend_schema(responses=inline_serializer("Live", {"status": serializers.CharField()}))
    def get(self, request: Request) -> Response:
        return Response({"status": "alive"})
