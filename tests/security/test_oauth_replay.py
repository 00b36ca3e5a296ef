"""OAuth ``state`` replay and mix-ups through /oauth2callback and the pasted-address path, over
the fake Google (tests/webapp/test_oauth.py covers the plain replay, forgery and expiry).

A state is spent once even when two callbacks race; a state never completes another account;
a code from one consent does not complete another (PKCE binds it); a replayed or foreign state
changes no account and tells the admin's chat nothing.
"""

from __future__ import annotations

import asyncio

import pytest

from core.bootstrap import Services
from core.errors import AuthError
from core.models import Account, AccountStatus, OAuthState
from tests.badinput.support import snapshot
from tests.webapp.conftest import ADMIN_ID
from tests.webapp.test_oauth import World, world  # noqa: F401  (the fixture: fakes + app)
from webapp.context import RUNTIME


async def test_two_callbacks_racing_with_one_state_exchange_it_once(world: World) -> None:  # noqa: F811
    account_id, url = await world.upload()
    query = await world.consent(url)
    results = await asyncio.gather(*(world.callback(**query) for _ in range(5)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 400, 400, 400, 400]
    assert all("already used" in page for status, page in results if status == 400)
    assert len([r for r in world.google.token_requests if r["grant_type"] == "authorization_code"]) == 1
    assert (await Account.get(id=account_id)).status is AccountStatus.ACTIVE
    assert len(world.telegram.messages(ADMIN_ID)) == 1  # one success message, no news of the replays


async def test_a_state_never_completes_another_account(world: World) -> None:  # noqa: F811
    first_id, first_url = await world.upload("first")
    second_id, second_url = await world.upload("second")
    first, second = await world.consent(first_url), await world.consent(second_url)
    services = _services(world)
    pasted = f"http://127.0.0.1:9/oauth2callback?state={first['state']}&code={first['code']}"
    with pytest.raises(AuthError, match="this authorization link is unknown"):
        await services.oauth.complete_pasted(second_id, pasted)  # the first's address, in the second's dialog
    assert await OAuthState.filter(used_at__isnull=False).count() == 0  # nothing was spent by the mix-up
    # The second's code with the first's state: the state is the first's, PKCE ties the code to the second.
    status, page = await world.callback(state=first["state"], code=second["code"])
    assert status == 400 and "rejected the authorization code" in page
    assert (await Account.get(id=first_id)).credentials.get("refresh_token") is None
    status, page = await world.callback(**second)
    assert status == 400 and "rejected the authorization code" in page  # Google spent that code
    for account_id in (first_id, second_id):
        assert (await Account.get(id=account_id)).status is AccountStatus.REQUIRES_REAUTH


async def test_replays_after_success_change_nothing_and_stay_silent(world: World) -> None:  # noqa: F811
    account_id, url = await world.upload()
    query = await world.consent(url)
    assert (await world.callback(**query))[0] == 200
    before = await snapshot()
    messages = len(world.telegram.messages(ADMIN_ID))
    services = _services(world)
    replays = [
        world.callback(**query),
        world.callback(state=query["state"], code="4/another-code"),
        world.callback(state=query["state"], error="access_denied"),  # a stranger's "the admin refused"
    ]
    for status, page in await asyncio.gather(*replays):
        assert status == 400, page
    for pasted in (f"http://127.0.0.1:9/oauth2callback?state={query['state']}&code={query['code']}",
                   query["code"]):
        with pytest.raises(AuthError):
            await services.oauth.complete_pasted(account_id, pasted)
    assert await snapshot() == before
    assert len(world.telegram.messages(ADMIN_ID)) == messages  # replays are no news for the admin
    assert len([r for r in world.google.token_requests if r["grant_type"] == "authorization_code"]) == 1


def _services(w: World) -> Services:
    assert w.client.server.app is not None
    return w.client.server.app[RUNTIME].services
