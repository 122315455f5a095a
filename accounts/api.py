"""JWT for external clients, with revocation kept in `creds`.

simplejwt's token_blacklist app cannot be used: it has a foreign key to the
user (so it cannot live in `creds`) and stores whole refresh tokens (so it
cannot live in `default`). Instead we keep revoked token ids in
`accounts.RevokedToken` and put a fingerprint of the user's credential stamp
in every token, so a password change voids every token minted before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken
from rest_framework_simplejwt.views import TokenObtainPairView

from accounts import services, throttle, two_factor
from accounts.authentication import TOKEN_INVALID, token_for, token_user
from accounts.models import User
from accounts.schema import ERROR, THROTTLED


def throttled(decision: throttle.Decision) -> exceptions.Throttled:
    """A 429 that says what the pages say, with Retry-After in seconds."""
    refusal = exceptions.Throttled(detail=throttle.too_many(decision))
    refusal.wait = decision.retry_after  # DRF's handler turns it into Retry-After
    return refusal


def parse_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise InvalidToken(TOKEN_INVALID) from exc


def revoke(token: RefreshToken, user_id: int) -> bool:
    expires = datetime.fromtimestamp(token["exp"], tz=UTC)
    return services.refresh_token_revoke(
        jti=token[api_settings.JTI_CLAIM], user_id=user_id, expires_at=expires
    )


class TokenObtainSerializer(jwt_serializers.TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user: User) -> RefreshToken:
        # Called once the password is right. The same answer as a wrong one
        # when it may not sign in yet: see User.may_sign_in_with_password.
        if not user.may_sign_in_with_password:
            raise exceptions.AuthenticationFailed(
                cls.default_error_messages["no_active_account"], "no_active_account"
            )
        return token_for(user)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        with throttle.sign_in_attempt(
            attrs.get(self.username_field, ""),
            self.context.get("request"),
            refusal=throttled,
        ):
            return super().validate(attrs)


OTP_REQUIRED = (
    "This account has two-factor sign-in on: send the code from the authenticator app "
    "(or a recovery code) as `otp`."
)


class TwoFactorTokenObtainSerializer(TokenObtainSerializer):
    """The password first (throttled as ever), then the second factor if the account has it."""

    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        write_only=True,
        help_text="Needed when the account has two-factor sign-in on: the 6-digit code from "
        "the authenticator app, or a recovery code.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        data = super().validate(attrs)
        if two_factor.is_on(self.user):
            if not attrs.get("otp"):
                raise exceptions.AuthenticationFailed(OTP_REQUIRED, code="otp_required")
            try:
                two_factor.verify(user=self.user, code=attrs["otp"])
            except two_factor.TooManyTries as error:
                raise exceptions.Throttled(wait=error.retry_after, detail=error.message) from None
            except two_factor.TwoFactorError as error:
                raise exceptions.AuthenticationFailed(error.message, code="otp_invalid") from None
        return data


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class VerifySerializer(serializers.Serializer):
    token = serializers.CharField()


TOKEN_REFUSED = OpenApiResponse(
    ERROR, description="The token is invalid, expired or revoked (`code`: `token_not_valid`)."
)


@extend_schema_view(
    post=extend_schema(
        responses={
            200: TokenPairSerializer,
            401: OpenApiResponse(ERROR, description="Wrong email or password."),
            429: THROTTLED,
        }
    )
)
class TokenView(TokenObtainPairView):
    """Email + password (+ `otp` with two-factor on) → an access and a refresh token."""

    serializer_class = TwoFactorTokenObtainSerializer
    throttle_classes: list = []


class TokenEndpoint(APIView):
    """Views that take a token in the body rather than as credentials."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Without it DRF turns a refused token's 401 into a 403.
        return f'{api_settings.AUTH_HEADER_TYPES[0]} realm="api"'


class TokenRefreshView(TokenEndpoint):
    @extend_schema(
        request=RefreshSerializer, responses={200: TokenPairSerializer, 401: TOKEN_REFUSED}
    )
    def post(self, request: Request) -> Response:
        """Trade a refresh token for a new pair; the old refresh token is spent."""
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        old = parse_refresh(serializer.validated_data["refresh"])
        user = token_user(old)
        # Spending the token is the claim on it: of two racing refreshes, one wins.
        if not revoke(old, user.pk):
            raise InvalidToken(TOKEN_INVALID)
        new = token_for(user)
        return Response({"access": str(new.access_token), "refresh": str(new)})


class TokenVerifyView(TokenEndpoint):
    @extend_schema(request=VerifySerializer, responses={200: None, 401: TOKEN_REFUSED})
    def post(self, request: Request) -> Response:
        """200 when the token (access or refresh) is valid now, 401 otherwise."""
        serializer = VerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = UntypedToken(serializer.validated_data["token"])
        except TokenError as exc:
            raise InvalidToken(TOKEN_INVALID) from exc
        token_user(token)
        return Response({})


class LogoutView(TokenEndpoint):
    @extend_schema(request=RefreshSerializer, responses={200: None, 401: TOKEN_REFUSED})
    def post(self, request: Request) -> Response:
        """Revoke a refresh token (its access tokens expire on their own)."""
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = parse_refresh(serializer.validated_data["refresh"])
        revoke(token, token_user(token).pk)
        return Response({})


class MeSerializer(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(source="is_verified")

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "full_name",
            "display_name",
            "phone",
            "time_zone",
            "email_verified",
            "date_joined",
        ]
        read_only_fields = fields


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        """The signed-in member's profile."""
        return Response(MeSerializer(request.user).data)
