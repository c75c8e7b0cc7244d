"""Token authentication for every API call, its lookup written out in SQL.

DRF's TokenAuthentication finds the key with `Token.objects.select_related("user").get(key=...)`:
building that query was about a tenth of a labeler call's CPU (bench/annotation_load.py). This
one reads the same row in one raw statement and answers the same way: an unknown key or an
inactive user is a 401 with DRF's messages.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        user_model = get_user_model()
        users = user_model.objects.raw(
            f"SELECT u.* FROM {user_model._meta.db_table} u "
            f"JOIN {Token._meta.db_table} t ON t.user_id = u.{user_model._meta.pk.column} WHERE t.key = %s",
            [key],
        )
        user = next(iter(users), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)  # request.auth: the key and its user
