"""Point a test runtime's services at the wire fakes: the settings each fake answers for, the
platform factory and a fresh OAuth service over them (one place instead of one per fixture)."""

from __future__ import annotations

from typing import Any

from core.bootstrap import Runtime
from core.platforms.youtube_oauth import OAuthService
from core.settings import Settings


def wire(runtime: Runtime, *, ig: Any = None, graph: Any = None, google: Any = None, yt: Any = None,
         public_base_url: str = "http://127.0.0.1:9") -> Settings:
    """The runtime's settings with the given fakes' addresses, installed in its services."""
    update: dict[str, Any] = {"public_base_url": public_base_url}
    if ig is not None:
        update["instagram_api_base"] = ig.base_url
    if graph is not None:
        update.update(graph_api_base=graph.api_base, graph_upload_base=graph.upload_base,
                      instagram_graph_api_base=graph.instagram_base)
    if google is not None:
        update.update(google_auth_uri=google.auth_uri, google_token_uri=google.token_uri)
    if yt is not None:
        update.update(youtube_api_base=yt.base_url + "/", youtube_web_base=yt.base_url)
    custom = runtime.settings.model_copy(update=update)
    services = runtime.services
    services.platforms.settings = custom
    services.oauth = services.accounts.oauth = OAuthService.from_settings(custom, b"k" * 32)
    return custom
