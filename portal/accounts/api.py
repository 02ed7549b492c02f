"""What every signing API call carries to ask the signer again (``portal.accounts.reauth``)."""

from __future__ import annotations

from rest_framework import serializers


class SignerInput(serializers.Serializer):
    """The password of a local user, or the one-time result id of a fresh sign-in at the identity provider for
    an SSO user (without either, the 403 body's ``reauth_url`` says where to get one)."""

    password = serializers.CharField(max_length=1000, trim_whitespace=False, write_only=True, required=False,
                                     default="", allow_blank=True)
    reauth = serializers.CharField(max_length=64, required=False, default="", allow_blank=True,
                                   help_text="SSO users: the one-time result id shown after signing in again at "
                                   "the identity provider (open the reauth_url of the refusal).")
