"""Getting updates from Telegram: long polling or a webhook, both confirming only kept updates.

Every update goes into the channel's inbox (``storage/inbox.py``) before it is
confirmed: long polling asks for the next offset only after the batch is kept,
and the webhook answers Telegram with 200 only then (otherwise Telegram sends
it again). An update leaves the inbox once it is handled and its replies are
sent, so a crash at any point loses nothing: the inbox is handled again at the
next start, and the engine's dedup key makes a second delivery harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import tornado.httpserver
import tornado.web
from telegram import Bot, Update
from telegram.error import BadRequest, Conflict, InvalidToken, TelegramError

from bot.telegram.channel import TelegramChannel
from bot.telegram.routing import ALLOWED_UPDATES

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: The readiness check (``bot.health.readiness`` bound to the runtime).
Health = Callable[[], Awaitable[Any]]
LIVE_PATH = "/healthz/live"
READY_PATH = "/healthz/ready"
MAX_BODY_BYTES = 1_000_000


class Backoff:
    """Growing waits after failures: 0.5 s, 1 s, 2 s ... up to ``cap``."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        """Start at ``first`` seconds, never wait longer than ``cap``."""
        self.first, self.cap, self._next = first, cap, first

    def next(self) -> float:
        """The wait to use now (the following one doubles)."""
        wait = self._next
        self._next = min(self.cap, self._next * 2)
        return wait

    def reset(self) -> None:
        """Back to the first wait after a success."""
        self._next = self.first


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake up at once when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def poll_updates(
    bot: Bot, channel: TelegramChannel, stop: asyncio.Event, *, poll_s: int = 30
) -> None:
    """Long-poll Telegram until ``stop`` is set; updates are confirmed once they are in the inbox.

    Asking for the next offset confirms the updates before it, so each batch
    goes into the channel's inbox first (one transaction) and is handled from
    there: getting updates never waits for a member's turn, and a crash loses
    nothing (what the inbox kept is handled at the next start).
    """
    offset: int | None = None
    backoff = Backoff()
    while not stop.is_set():
        await _until_room_or_stop(channel, stop)
        if stop.is_set():
            break
        fetch = asyncio.ensure_future(fetch_updates(bot, offset, poll_s))
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if fetch not in done:
            fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
            break
        try:
            updates = fetch.result()
        except InvalidToken:
            raise
        except Conflict as exc:
            log.warning("Telegram says another bot process is getting updates: %s", exc)
            await wait_or_stop(stop, backoff.next())
            continue
        except TelegramError as exc:
            wait = backoff.next()
            log.warning("getting updates failed (%s); trying again in %.1f s", exc, wait)
            await wait_or_stop(stop, wait)
            continue
        if not updates:
            backoff.reset()
            continue
        try:
            await channel.receive(updates)
        except Exception as exc:  # not kept: do not confirm, Telegram sends them again
            wait = backoff.next()
            log.warning("could not keep %d updates (%s); asking again in %.1f s",
                        len(updates), exc, wait)  # fmt: skip
            await wait_or_stop(stop, wait)
            continue
        backoff.reset()
        offset = int(updates[-1]["update_id"]) + 1
    if offset is not None:
        await _confirm(bot, offset)


async def fetch_updates(bot: Bot, offset: int | None, poll_s: int) -> list[dict[str, Any]]:
    """One ``getUpdates`` call; the updates as Telegram sent them (JSON objects).

    Raw, so they can be kept in the inbox as they came; PTB's ``get_updates``
    would turn them into objects first (``Bot.do_api_request`` goes through the
    same request path; PTB's warning about it is silenced in the channel).
    """
    params: dict[str, Any] = {"timeout": poll_s, "allowed_updates": ALLOWED_UPDATES}
    if offset is not None:
        params["offset"] = offset
    result = await bot.do_api_request(
        "getUpdates",
        api_kwargs=params,
        read_timeout=poll_s + 10,  # the poll, then 10 s
    )
    if not isinstance(result, list):
        raise TelegramError(f"getUpdates gave {type(result).__name__}, not a list")
    return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]


async def _until_room_or_stop(channel: TelegramChannel, stop: asyncio.Event) -> None:
    """Wait while too many updates are open (the bot is behind), or until ``stop``."""
    if not channel.intake.full:
        return
    log.warning("%d updates are waiting for the bot; getting more when some are done",
                channel.open_updates)  # fmt: skip
    room = asyncio.ensure_future(channel.intake.wait_for_room())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({room, stopping}, return_when=asyncio.FIRST_COMPLETED)
    room.cancel()
    stopping.cancel()


async def _confirm(bot: Bot, offset: int) -> None:
    """Tell Telegram the last batch is kept, so a restart does not get it again."""
    try:
        await bot.get_updates(offset=offset, timeout=0, limit=1, allowed_updates=ALLOWED_UPDATES)
    except TelegramError as exc:
        log.warning("could not confirm the last updates (%s); they will come again", exc)


@dataclass
class WebhookReceiver:
    """What the webhook request handler needs."""

    bot: Bot
    channel: TelegramChannel
    secret: str

    def secret_ok(self, given: str | None) -> bool:
        """True when Telegram's secret header matches (compared in constant time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.secret.encode())


class _WebhookHandler(tornado.web.RequestHandler):
    """Receives one update from Telegram per POST."""

    def initialize(self, receiver: WebhookReceiver) -> None:
        """Keep the receiver (tornado calls this for every request)."""
        self.receiver = receiver

    async def post(self) -> None:
        """Check the secret, keep the update in the inbox, then answer 200."""
        if not self.receiver.secret_ok(self.request.headers.get(SECRET_HEADER)):
            log.warning("webhook call without the right secret from %s", self.request.remote_ip)
            self.set_status(403)
            return
        try:
            data = json.loads(self.request.body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("no update_id")
            Update.de_json(data, self.receiver.bot)  # refuse what PTB cannot read
        except Exception:
            log.warning("webhook body is not an update")
            self.set_status(400)
            return
        channel = self.receiver.channel
        if channel.intake.full:  # far behind: Telegram sends it again later
            log.warning("%d updates are waiting for the bot; asking Telegram to wait",
                        channel.open_updates)  # fmt: skip
            self.set_status(503)
            return
        try:
            await channel.receive([data])
        except Exception as exc:  # not kept: Telegram sends it again later
            log.warning("could not keep a webhook update (%s); Telegram will send it again", exc)
            self.set_status(500)
            return
        self.set_status(200)


class _LiveHandler(tornado.web.RequestHandler):
    """``GET /healthz/live``: 200 while the process answers."""

    def get(self) -> None:
        """Alive."""
        from bot.health import liveness

        self.write(liveness())


class _ReadyHandler(tornado.web.RequestHandler):
    """``GET /healthz/ready``: 200 when ready (database, migrations, NLU), else 503."""

    def initialize(self, health: Health) -> None:
        """Keep the check."""
        self.health = health

    async def get(self) -> None:
        """Run the checks; the body lists them."""
        result = await self.health()
        self.set_status(200 if result.ok else 503)
        self.write(result.as_json())


def health_routes(health: Health | None) -> list[Any]:
    """Tornado routes for the two health endpoints."""
    if health is None:
        return []
    return [(LIVE_PATH, _LiveHandler), (READY_PATH, _ReadyHandler, {"health": health})]


class HealthServer:
    """The health endpoints on a port of their own (long polling has no webhook server)."""

    def __init__(self, health: Health) -> None:
        """Serve ``/healthz/live`` and ``/healthz/ready``."""
        self._server = tornado.httpserver.HTTPServer(tornado.web.Application(health_routes(health)))

    def listen(self, port: int, address: str) -> None:
        """Start accepting requests."""
        self._server.listen(port, address)
        log.info("health endpoints on %s:%d", address, port)

    async def close(self) -> None:
        """Stop."""
        self._server.stop()
        await self._server.close_all_connections()


class WebhookServer:
    """A small tornado server on ``listen:port`` serving the webhook path (and health)."""

    def __init__(self, receiver: WebhookReceiver, path: str, health: Health | None = None) -> None:
        """Serve ``path`` (from the public webhook URL), and the health endpoints."""
        routes: list[Any] = [(path, _WebhookHandler, {"receiver": receiver})]
        app = tornado.web.Application(routes + health_routes(health))
        self._server = tornado.httpserver.HTTPServer(
            app, max_body_size=MAX_BODY_BYTES, xheaders=True
        )

    def listen(self, port: int, address: str) -> None:
        """Start accepting requests."""
        self._server.listen(port, address)

    async def close(self) -> None:
        """Stop accepting requests and close open connections."""
        self._server.stop()
        await self._server.close_all_connections()


def webhook_path(url: str) -> str:
    """The path part of the public webhook URL (``/`` when there is none)."""
    return urlsplit(url).path or "/"


async def serve_webhook(
    bot: Bot,
    channel: TelegramChannel,
    stop: asyncio.Event,
    *,
    url: str,
    secret: str,
    listen: str,
    port: int,
    health: Health | None = None,
) -> None:
    """Serve the webhook until ``stop`` is set; the webhook stays registered for the next start."""
    server = WebhookServer(WebhookReceiver(bot, channel, secret), webhook_path(url), health)
    server.listen(port, listen)
    log.info("webhook listening on %s:%d%s", listen, port, webhook_path(url))
    try:
        await _set_webhook(bot, stop, url=url, secret=secret)
        await stop.wait()
    finally:
        await server.close()


async def _set_webhook(bot: Bot, stop: asyncio.Event, *, url: str, secret: str) -> None:
    """Register the webhook with Telegram, retrying until it works or we stop."""
    backoff = Backoff()
    options: dict[str, Any] = {"allowed_updates": ALLOWED_UPDATES, "max_connections": 40}
    while not stop.is_set():
        try:
            await bot.set_webhook(url=url, secret_token=secret, **options)
            return
        except (InvalidToken, BadRequest):
            raise
        except TelegramError as exc:
            wait = backoff.next()
            log.warning("setting the webhook failed (%s); trying again in %.1f s", exc, wait)
            await wait_or_stop(stop, wait)
