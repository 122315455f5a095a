"""Circles and meetings for external clients: read the directory, read my meetings, RSVP.

Privacy is by construction: `PublicCircleSerializer` has no private field at
all, and only a circle's active members get `CircleSerializer`, which adds the
address, the video link and the roster. Anyone else sees a man by his public
name only (first name and last initial).

Access:
- circles (list and detail): anyone, signed in or not. The list holds listed,
  not closed circles; an unlisted circle is a 404 to all but its active members.
  Staff and superusers get nothing more here than any outsider: they have admin.
- meetings and RSVP: signed-in members (JWT or session), for the meetings of
  their own active circles only; any other meeting is a 404, whether it exists
  or not.
"""

from __future__ import annotations

import binascii
import hashlib
from base64 import b64decode, b64encode
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, pagination, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from circles import caching, fragments, selectors, services
from circles.forms import is_zone_or_region
from circles.models import RSVP, Circle, Meeting, Membership

KINDS = ["online", "in_person"]
SEND_AN_ANSWER = 'Send a JSON object: {"response": "yes"} or {"response": "no"}.'
NOT_A_ZONE = "Not a time zone or region: an IANA name such as Europe/London, or a region (Europe)."
BAD_CURSOR = "This cursor is not one this list gave out: start again without `cursor`."


# --- Pages ------------------------------------------------------------------------------


class CursorPages(pagination.CursorPagination):
    """`next` and `previous` links in a stable order, without a COUNT over the list.

    Keyset pages on (`ordering[0]`, id): a cursor holds the first field's value
    and the id of the row it stands after (or, going back, before), so rows
    sharing a value (circles of one name, meetings at one time) are neither
    skipped nor repeated, and no page needs an OFFSET. A cursor that was not
    made here (edited, or holding what the field cannot hold) is a 404 saying
    so, never a query that fails.
    """

    page_size = 50
    invalid_cursor_message = BAD_CURSOR

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> Any:
        self.base_url = request.build_absolute_uri()
        field = self.ordering[0]
        self._field = queryset.model._meta.get_field(field)
        self.cursor = self.decode_cursor(request)
        reverse = self.cursor is not None and self.cursor.reverse
        if self.cursor is not None:
            value, pk = self.cursor.position
            after = "lt" if reverse else "gt"
            queryset = queryset.filter(
                Q(**{f"{field}__{after}": value}) | Q(**{field: value, f"pk__{after}": pk})
            )
        order = (f"-{field}", "-pk") if reverse else (field, "pk")
        rows = list(queryset.order_by(*order)[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if reverse:
            rows.reverse()
        # Going back, the page we came from is next; going on, the one we came from is previous.
        self.has_next = more if not reverse else True
        self.has_previous = more if reverse else self.cursor is not None
        self.page = rows
        return rows

    def _link(self, row: Any, *, reverse: bool) -> str:
        value = getattr(row, self.ordering[0])
        position = value.isoformat() if hasattr(value, "isoformat") else str(value)
        tokens = {"p": position, "k": str(row.pk), **({"r": "1"} if reverse else {})}
        encoded = b64encode(urlencode(tokens).encode()).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def get_next_link(self) -> str | None:
        return self._link(self.page[-1], reverse=False) if self.has_next and self.page else None

    def get_previous_link(self) -> str | None:
        if not (self.has_previous and self.page):
            return None
        return self._link(self.page[0], reverse=True)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = parse_qs(b64decode(encoded.encode("ascii"), validate=True).decode("ascii"))
            (position,), (pk,) = tokens["p"], tokens["k"]
            if "\x00" in position or not (pk.isascii() and pk.isdigit() and len(pk) <= 18):
                raise ValueError
            value = self._field.to_python(position)
            if isinstance(value, datetime) and value.tzinfo is None:
                raise ValueError  # ours always carry their offset
        except (KeyError, ValueError, TypeError, binascii.Error, DjangoValidationError) as error:
            raise exceptions.NotFound(self.invalid_cursor_message) from error
        reverse = tokens.get("r", ["0"]) == ["1"]
        return pagination.Cursor(offset=0, reverse=reverse, position=(value, int(pk)))


class CirclePages(CursorPages):
    ordering = ("name", "pk")


class MeetingPages(CursorPages):
    ordering = ("starts_at", "pk")


# --- Fields -----------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class PublicNameField(serializers.Field):
    """A man as non-members may see him: first name and last initial, nothing else."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, user: Any) -> str:
        return selectors.public_name(user)


def utc_datetime(**kwargs: Any) -> serializers.DateTimeField:
    # The API speaks UTC whatever the site's (or the member's) time zone.
    return serializers.DateTimeField(default_timezone=UTC, read_only=True, **kwargs)


# --- Circles ----------------------------------------------------------------------------


class CircleFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Words from the name, public area or description; each a word's start.",
    )
    weekday = serializers.IntegerField(
        min_value=0, max_value=6, required=False, help_text="0 = Monday … 6 = Sunday."
    )
    kind = serializers.ChoiceField(
        KINDS, required=False, help_text="Hybrid circles match both kinds."
    )
    open_seats = serializers.BooleanField(
        required=False, help_text="true: only circles with a free seat."
    )
    time_zone = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A circle's time zone (Europe/London) or a whole region (Europe).",
    )

    def validate_time_zone(self, value: str) -> str:
        if value and not is_zone_or_region(value):
            raise serializers.ValidationError(NOT_A_ZONE)
        return value


@extend_schema_field(
    {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "19:00"}
)
class WallClockTimeField(serializers.TimeField):
    """A local time of day as HH:MM, e.g. "19:00".

    Not an OpenAPI `time` (RFC 3339 `full-time`: seconds and a UTC offset):
    a circle meets at 19:00 in its own time zone, whatever the offset that day.
    """


class ScheduleSerializer(serializers.ModelSerializer):
    start_time = WallClockTimeField(
        format="%H:%M", read_only=True, help_text="Local time in `time_zone`."
    )
    time_zone = serializers.CharField(read_only=True, help_text="IANA name, e.g. Europe/Paris.")
    text = serializers.CharField(source="schedule_text", read_only=True)

    class Meta:
        model = Circle
        fields = [
            "weekday",
            "start_time",
            "time_zone",
            "frequency",
            "week_of_month",
            "duration_minutes",
            "text",
        ]
        read_only_fields = fields


class FacilitatorSerializer(serializers.ModelSerializer):
    name = PublicNameField(source="user")

    class Meta:
        model = Membership
        fields = ["name", "role"]
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer):
    """One man on a circle's roster, for his fellow members: what he chose to share."""

    name = PublicNameField(source="user")
    email = serializers.SerializerMethodField(help_text="Only if he shares it with his circle.")
    phone = serializers.SerializerMethodField(help_text="Only if he shares it with his circle.")

    class Meta:
        model = Membership
        fields = ["name", "role", "email", "phone"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_email(self, membership: Membership) -> str | None:
        return membership.user.email if membership.share_email else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_phone(self, membership: Membership) -> str | None:
        return (membership.user.phone or None) if membership.share_phone else None


class PublicCircleSerializer(serializers.ModelSerializer):
    """What anyone may know of a circle: the directory's information."""

    schedule = ScheduleSerializer(source="*", read_only=True)
    seats_taken = serializers.IntegerField(source="seats_held", read_only=True)
    facilitators = FacilitatorSerializer(
        source="facilitator_memberships", many=True, read_only=True
    )

    class Meta:
        model = Circle
        fields = [
            "name",
            "slug",
            "description",
            "schedule",
            "location_kind",
            "public_area",
            "capacity",
            "seats_taken",
            "status",
            "facilitators",
        ]
        read_only_fields = fields


# The columns only a circle's active members get (besides its roster).
MEMBERS_ONLY = ("private_address", "video_link")


class CircleSerializer(PublicCircleSerializer):
    """A circle as its active members see it; the last three fields are theirs only."""

    private_address = serializers.CharField(
        required=False, help_text="Active members of the circle only."
    )
    video_link = serializers.CharField(
        required=False, help_text="Active members of the circle only."
    )
    members = MemberSerializer(
        source="roster_memberships",
        many=True,
        required=False,
        help_text="Active members of the circle only.",
    )

    class Meta(PublicCircleSerializer.Meta):
        fields = [*PublicCircleSerializer.Meta.fields, *MEMBERS_ONLY, "members"]
        read_only_fields = PublicCircleSerializer.Meta.fields


def circle_data(circles: list[Circle], mine: set[int]) -> list[dict[str, Any]]:
    """Each circle for this viewer: in full only for the circles he is an active member of."""
    full = [c for c in circles if c.pk in mine]
    public = [c for c in circles if c.pk not in mine]
    selectors.api_attach_rosters(full)
    # One list serializer per kind: DRF builds a serializer's fields for each
    # instance it makes, and making one per circle cost most of a page's time.
    shown = dict(zip((c.pk for c in full), CircleSerializer(full, many=True).data, strict=True))
    shown.update(
        zip((c.pk for c in public), PublicCircleSerializer(public, many=True).data, strict=True)
    )
    return [shown[circle.pk] for circle in circles]


BAD_FILTER = OpenApiResponse(
    OpenApiTypes.OBJECT, description="A bad filter value: the parameter name → its messages."
)
NOT_FOUND = OpenApiResponse(
    OpenApiTypes.OBJECT, description='`{"detail": "Not found."}`: no such thing for you.'
)


class CircleListView(generics.GenericAPIView):
    permission_classes = [AllowAny]
    serializer_class = CircleSerializer
    pagination_class = CirclePages

    @extend_schema(
        parameters=[CircleFilterSerializer],
        responses={200: CircleSerializer(many=True), 400: BAD_FILTER},
    )
    def get(self, request: Request) -> Response:
        """Listed circles that are not closed; private fields only on your own circles."""
        filters = CircleFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        circles = selectors.directory(
            q=filters.validated_data.get("q"),
            weekday=filters.validated_data.get("weekday"),
            kind=filters.validated_data.get("kind"),
            open_seats=filters.validated_data.get("open_seats", False),
            time_zone=filters.validated_data.get("time_zone") or None,
        ).only(*selectors.DIRECTORY_COLUMNS, *MEMBERS_ONLY)
        paginator = self.paginator

        def make() -> dict[str, Any]:
            page = paginator.paginate_queryset(circles, request, view=self)
            return {
                "ids": [circle.pk for circle in page],
                "public": list(PublicCircleSerializer(page, many=True).data),
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
            }

        # The public page is everyone's: made once per generation of the listings
        # (the same as the directory's); his own circles on it are read fresh, in full.
        address = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()
        listing = caching.cached("api-circles", make, scopes=[caching.DIRECTORY], vary=address)
        mine = selectors.api_active_circle_ids(request.user) & set(listing["ids"])
        full = {}
        if mine:
            own = list(circles.filter(pk__in=mine))
            full = dict(zip((c.pk for c in own), circle_data(own, mine), strict=True))
        results = [
            full.get(pk, row) for pk, row in zip(listing["ids"], listing["public"], strict=True)
        ]
        return Response(
            {"next": listing["next"], "previous": listing["previous"], "results": results}
        )


class CircleDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: CircleSerializer, 404: NOT_FOUND})
    def get(self, request: Request, slug: str) -> Response:
        """One circle; an unlisted one only for its active members (404 for anyone else)."""
        circle = selectors.circle_detail(slug)
        mine = selectors.api_active_circle_ids(request.user)
        if circle is None or not (circle.is_listed or circle.pk in mine):
            raise exceptions.NotFound()
        return Response(circle_data([circle], mine)[0])


# --- Meetings ---------------------------------------------------------------------------


class MeetingCircleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Circle
        fields = ["slug", "name"]
        read_only_fields = fields


class MeetingSerializer(serializers.ModelSerializer):
    circle = MeetingCircleSerializer(read_only=True)
    starts_at = utc_datetime()
    ends_at = utc_datetime()
    leader = PublicNameField(allow_null=True)
    my_rsvp = serializers.CharField(
        read_only=True, allow_null=True, help_text='Your answer: "yes", "no", or null.'
    )

    class Meta:
        model = Meeting
        fields = ["id", "circle", "starts_at", "ends_at", "status", "note", "leader", "my_rsvp"]
        read_only_fields = fields


class MeetingListView(generics.ListAPIView):
    """Your circles' meetings that are not over yet, soonest first (cancelled ones too)."""

    serializer_class = MeetingSerializer
    pagination_class = MeetingPages

    def get_queryset(self) -> QuerySet[Meeting]:
        return selectors.api_my_meetings(self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """His page, made for him alone on his own scope and his circles' (as his dashboard)."""
        user = request.user
        mine = caching.user_scope(user.pk)
        circle_ids = caching.cached(
            "api-circle-ids",
            lambda: sorted(selectors.api_active_circle_ids(user)),
            scopes=[mine],
            user=user.pk,
        )
        paginator = self.paginator

        def make() -> dict[str, Any]:
            page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
            return {
                "results": list(MeetingSerializer(page, many=True).data),
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "ends": [meeting.ends_at for meeting in page],
            }

        address = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()
        listing = caching.cached(
            "api-meetings",
            make,
            scopes=[mine, *(caching.circle_scope(pk) for pk in circle_ids)],
            user=user.pk,
            vary=address,
            # A meeting that is over leaves the list.
            timeout=lambda page: fragments.seconds_fresh(page["ends"]),
        )
        links = {"next": listing["next"], "previous": listing["previous"]}
        return Response({**links, "results": listing["results"]})


class RSVPRequestSerializer(serializers.Serializer):
    response = serializers.ChoiceField(RSVP.Response.choices)


class RSVPSerializer(serializers.ModelSerializer):
    responded_at = utc_datetime()

    class Meta:
        model = RSVP
        fields = ["meeting", "response", "channel", "responded_at"]
        read_only_fields = fields


class RSVPView(APIView):
    @extend_schema(
        request=RSVPRequestSerializer,
        responses={
            200: RSVPSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='`{"response": [...]}` for a bad body; `{"detail": "..."}` when '
                "the meeting is closed or the circle's agreements need accepting first.",
            ),
            403: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='`{"detail": "..."}`: your membership ended meanwhile.',
            ),
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        """Answer yes or no for a meeting of one of your circles; a second answer replaces it."""
        meeting = selectors.api_my_meeting(request.user, pk)
        if meeting is None:
            raise exceptions.NotFound()
        answer = RSVPRequestSerializer(data=_answer_body(request))
        answer.is_valid(raise_exception=True)
        try:
            rsvp = services.rsvp_set(
                meeting=meeting,
                user=request.user,
                response=answer.validated_data["response"],
                channel=RSVP.Channel.API,
            )
        except services.CircleError as error:
            # Our lookup already kept him to his active circles: he can only lose
            # his seat in between, and then he knows that circle anyway.
            if error.message == services.NOT_A_MEMBER:
                raise exceptions.PermissionDenied(error.message) from error
            return Response({"detail": error.message}, status=400)
        return Response(RSVPSerializer(rsvp).data)


def _answer_body(request: Request) -> dict[str, Any]:
    """The request body as a dict; anything else is an error naming `response`."""
    try:
        body = request.data
    except exceptions.ParseError as error:
        raise exceptions.ValidationError(
            {"response": [f"{error.detail} {SEND_AN_ANSWER}"]}
        ) from error
    if not isinstance(body, dict):
        raise exceptions.ValidationError({"response": [SEND_AN_ANSWER]})
    return body
