"""Tokens for the API, and the DRF authentication that checks them.

Kept apart from accounts.api because DRF imports authentication classes while
it is itself being imported.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token

from accounts.models import RevokedToken, User

CREDENTIAL_CLAIM = "cred"
TOKEN_INVALID = "Token is invalid, expired or revoked."


def token_for(user: User) -> RefreshToken:
    token = RefreshToken.for_user(user)
    token[CREDENTIAL_CLAIM] = user.credentials_fingerprint()
    return token


def token_user(token: Token) -> User:
    """The active user a token belongs to, if it is still valid for him."""
    user = User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM), is_active=True).first()
    if user is None or token.get(CREDENTIAL_CLAIM) != user.credentials_fingerprint():
        raise InvalidToken(TOKEN_INVALID)
    if (
        token.get("token_type") == "refresh"
        and RevokedToken.objects.filter(jti=token[api_settings.JTI_CLAIM]).exists()
    ):
        raise InvalidToken(TOKEN_INVALID)
    return user


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's authentication, refusing tokens minted before a credential change."""

    def get_user(self, validated_token: Token) -> User:
        try:
            return token_user(validated_token)
        except InvalidToken as exc:
            raise exceptions.AuthenticationFailed(TOKEN_INVALID, code="token_not_valid") from exc
