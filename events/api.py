"""Events for external clients: list the events you may see, read one, register.

Access is the pages' (events.selectors): anyone reads public events; signed-in
men (JWT or session) also members-only events and their circles' events. An
event he may not see is a 404, whether it exists or not. The address and
joining details are in an event's data only for the men registered for it
(confirmed) and its organisers; anyone else gets them as null.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from circles.api import NOT_FOUND, CursorPages
from events import selectors, services
from events.models import Event, Question, Registration, TicketTier

SEND_A_REGISTRATION = (
    'Send a JSON object: {"tier": <ticket id, or null for a free event>, '
    '"answers": {"<question id>": "your answer"}}.'
)


class EventPages(CursorPages):
    ordering = ("starts_at", "pk")


def utc_datetime(**kwargs: Any) -> serializers.DateTimeField:
    # The API speaks UTC whatever the site's or the event's time zone; `time_zone` says the event's.
    return serializers.DateTimeField(default_timezone=UTC, read_only=True, **kwargs)


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketTier
        fields = ["id", "name", "amount_cents", "currency"]
        read_only_fields = fields


class QuestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Question
        fields = ["id", "label", "kind", "required"]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    """An event as anyone who may see it sees it (the listing's fields)."""

    starts_at = utc_datetime()
    ends_at = utc_datetime()
    registration_deadline = utc_datetime(allow_null=True)
    time_zone = serializers.CharField(
        read_only=True, help_text="The event's IANA time zone: its times are said in it."
    )
    seats_taken = serializers.IntegerField(read_only=True)

    class Meta:
        model = Event
        fields = [
            "slug",
            "title",
            "description",
            "starts_at",
            "ends_at",
            "time_zone",
            "public_area",
            "capacity",
            "seats_taken",
            "visibility",
            "status",
            "registration_deadline",
        ]
        read_only_fields = fields


class MyRegistrationSerializer(serializers.ModelSerializer):
    tier = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    hold_expires_at = utc_datetime(allow_null=True)
    offer_expires_at = utc_datetime(allow_null=True)
    created_at = utc_datetime()

    class Meta:
        model = Registration
        fields = [
            "status",
            "payment",
            "tier",
            "amount_cents",
            "hold_expires_at",
            "offer_expires_at",
            "created_at",
        ]
        read_only_fields = fields


class EventDetailSerializer(EventSerializer):
    """One event: its tickets and questions (what registering needs); the address and
    joining details only for the men registered and its organisers (null for anyone else)."""

    tiers = TierSerializer(many=True, read_only=True)
    questions = QuestionSerializer(many=True, read_only=True)
    address = serializers.SerializerMethodField(help_text="Registered men and organisers only.")
    joining_details = serializers.SerializerMethodField(
        help_text="Registered men and organisers only."
    )
    my_registration = serializers.SerializerMethodField(help_text="Yours, or null.")

    class Meta(EventSerializer.Meta):
        fields = [
            *EventSerializer.Meta.fields,
            "tiers",
            "questions",
            "address",
            "joining_details",
            "my_registration",
        ]
        read_only_fields = fields

    def get_address(self, event: Event) -> str | None:
        return event.address if self.context["sees_private"] else None

    def get_joining_details(self, event: Event) -> str | None:
        return event.joining_details if self.context["sees_private"] else None

    def get_my_registration(self, event: Event) -> dict[str, Any] | None:
        registration = self.context["registration"]
        return MyRegistrationSerializer(registration).data if registration else None


class EventFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Words from the title, public area or description; each a word's start.",
    )


class EventListView(generics.GenericAPIView):
    permission_classes = [AllowAny]
    serializer_class = EventSerializer
    pagination_class = EventPages

    @extend_schema(
        parameters=[EventFilterSerializer],
        responses={200: EventSerializer(many=True), 400: OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def get(self, request: Request) -> Response:
        """Upcoming events you may see (not drafts, not cancelled), soonest first."""
        filters = EventFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events: QuerySet[Event] = selectors.listing(request.user, filters.validated_data.get("q"))
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)


def _event_or_404(request: Request, slug: str) -> Event:
    event = selectors.event_page(request.user, slug)
    if event is None:
        raise exceptions.NotFound()
    return event


def detail_data(request: Request, event: Event) -> dict[str, Any]:
    registration = selectors.my_registration(request.user, event)
    organiser = selectors.is_organiser(request.user, event)
    context = {
        "registration": registration,
        "sees_private": selectors.sees_private(registration, organiser),
    }
    return EventDetailSerializer(event, context=context).data


class EventDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: EventDetailSerializer, 404: NOT_FOUND})
    def get(self, request: Request, slug: str) -> Response:
        """One event you may see; drafts only to its organisers."""
        return Response(detail_data(request, _event_or_404(request, slug)))


class RegisterRequestSerializer(serializers.Serializer):
    tier = serializers.IntegerField(
        required=False, allow_null=True, help_text="A ticket's id; omit or null on a free event."
    )
    answers = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=services.ANSWER_MAX),
        required=False,
        help_text="Question id → answer.",
    )


class RegisterResponseSerializer(MyRegistrationSerializer):
    message = serializers.SerializerMethodField()

    class Meta(MyRegistrationSerializer.Meta):
        fields = [*MyRegistrationSerializer.Meta.fields, "message"]
        read_only_fields = fields

    def get_message(self, registration: Registration) -> str:
        return services.outcome_message(registration)


class RegisterView(APIView):
    @extend_schema(
        request=RegisterRequestSerializer,
        responses={
            201: RegisterResponseSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='A bad field: `{"tier": [...]}` or `{"answers.<id>": [...]}`; '
                'otherwise `{"detail": "..."}` (closed, already registered...).',
            ),
            403: OpenApiResponse(
                OpenApiTypes.OBJECT, description="Your email address is not verified yet."
            ),
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        """Register for an event: confirmed, held while you pay (tickets), or waitlisted."""
        event = _event_or_404(request, slug)
        body = RegisterRequestSerializer(data=_body(request))
        if not body.is_valid():
            raise exceptions.ValidationError(_flat(body.errors))
        try:
            registration = services.register(
                event=event,
                user=request.user,
                answers=body.validated_data.get("answers"),
                tier=body.validated_data.get("tier"),
            )
        except services.EventError as error:
            if error.message == services.NOT_VERIFIED:
                raise exceptions.PermissionDenied(error.message) from error
            key = error.field or "detail"
            return Response({key: [error.message] if error.field else error.message}, status=400)
        return Response(RegisterResponseSerializer(registration).data, status=201)


def _body(request: Request) -> dict[str, Any]:
    """The request body as a dict; anything else is an error saying what to send."""
    try:
        body = request.data
    except exceptions.ParseError as error:
        raise exceptions.ValidationError(
            {"detail": f"{error.detail} {SEND_A_REGISTRATION}"}
        ) from error
    if not isinstance(body, dict):
        raise exceptions.ValidationError({"detail": SEND_A_REGISTRATION})
    return body


def _flat(errors: dict[str, Any]) -> dict[str, Any]:
    """{"answers": {"7": ["..."]}} as {"answers.7": ["..."]}: the field named as the services do."""
    flat: dict[str, Any] = {}
    for name, value in errors.items():
        if isinstance(value, dict):
            for key, messages in value.items():
                flat[f"{name}.{key}"] = messages
        else:
            flat[name] = value
    return flat
