from __future__ import annotations

from core import crypto
from core.bootstrap import Runtime, build_services
from core.settings import Settings


def test_derived_keys_are_per_purpose_and_follow_the_newest_key() -> None:
    ring = crypto.KeyRing([crypto.new_key(), crypto.new_key()])
    a, b = crypto.derive_key(ring, "oauth-state"), crypto.derive_key(ring, "media-url")
    assert len(a) == 32 and a != b
    assert crypto.derive_key(crypto.KeyRing(list(ring.keys)), "oauth-state") == a
    assert crypto.derive_key(crypto.KeyRing(ring.keys[1:]), "oauth-state") != a


async def test_services_are_wired_from_settings(runtime: Runtime, settings: Settings) -> None:
    custom = settings.model_copy(update={
        "google_auth_uri": "http://127.0.0.1:9/o/oauth2/auth",
        "google_token_uri": "http://127.0.0.1:9/token",
        "public_base_url": "https://forwarder.example.test/",
        "proxy_check_urls": ["http://127.0.0.1:9/check"],
    })
    services = build_services(custom, runtime.keyring, runtime.redis)
    assert services.oauth.auth_uri == "http://127.0.0.1:9/o/oauth2/auth"
    assert services.oauth.token_uri == "http://127.0.0.1:9/token"
    assert services.oauth.redirect_uri == "https://forwarder.example.test/oauth2callback"
    assert services.proxies.check_urls == ["http://127.0.0.1:9/check"]
    assert services.health.redis is runtime.redis
