"""client_secret.json variants through core (parse_client_secret, AccountService.start_youtube)
and POST /api/tokens/upload: each refused with its exact reason and no account created; Google's
real shapes accepted (BOM, web client, other redirect URIs), always redirecting to this app."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest

from core.bootstrap import Runtime
from core.errors import InvalidInput
from core.models import Account, OAuthState
from core.platforms.youtube_oauth import ClientSecretError, parse_client_secret
from tests.badinput.client_secrets import ACCEPTED, REFUSED
from tests.webapp.conftest import Api


@pytest.mark.parametrize("name", list(REFUSED))
def test_core_refuses_with_the_exact_reason(name: str) -> None:
    content, message = REFUSED[name]
    assert name != "huge" or len(content) > 64 * 1024  # over the bot's limit too
    with pytest.raises(ClientSecretError) as caught:
        parse_client_secret(content)
    assert str(caught.value) == message
    assert "fake-secret" not in str(caught.value)  # the secret is never quoted back


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_core_takes_googles_shapes(name: str) -> None:
    parsed = parse_client_secret(ACCEPTED[name])
    assert parsed.client_id == "fake-client.apps.googleusercontent.com"
    assert parsed.client_secret == "fake-secret"


async def test_the_service_creates_no_account_for_a_refused_file(runtime: Runtime) -> None:
    for content, message in REFUSED.values():
        with pytest.raises(InvalidInput) as caught:
            await runtime.services.accounts.start_youtube("tube", content)
        assert caught.value.fields == {"client_secret": message}
    assert await Account.all().count() == 0 and await OAuthState.all().count() == 0


async def test_the_upload_endpoint_refuses_each_and_takes_the_right_ones(api: Api, runtime: Runtime) -> None:
    for name, (content, message) in REFUSED.items():
        form = aiohttp.FormData()
        form.add_field("alias", f"tube {name}")
        form.add_field("client_secret", content, filename="client_secret.json")
        err = (await api.post("/api/tokens/upload", 422, data=form))["error"]
        assert err["fields"] == {"client_secret": message}, name
    form = aiohttp.FormData()
    form.add_field("alias", "tube")
    form.add_field("client_secret", io.BytesIO(b"{" + b" " * (2 * 1024 * 1024) + b"}"),
                   filename="client_secret.json")
    err = (await api.post("/api/tokens/upload", 413, data=form))["error"]
    assert err["code"] == "payload_too_large"
    assert await Account.all().count() == 0
    redirect = runtime.settings.public_base_url.rstrip("/") + "/oauth2callback"
    for name, content in ACCEPTED.items():
        form = aiohttp.FormData()
        form.add_field("alias", f"tube {name}")
        form.add_field("client_secret", content, filename="client_secret.json")
        body = await api.post("/api/tokens/upload", 201, data=form)
        query = parse_qs(urlparse(body["authorize_url"]).query)
        assert query["redirect_uri"] == [redirect], name  # never a URI from the file
        assert query["client_id"] == ["fake-client.apps.googleusercontent.com"]
    assert await Account.all().count() == len(ACCEPTED)
