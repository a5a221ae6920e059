"""A fake Telegram Bot API server: the HTTP API aiogram speaks, with updates the tests push.

It runs in a background thread with its own event loop, so the bot under test (a child
process, or a Bot in the test's own loop) talks to it over real HTTP. Every method call is
recorded; tests read the replies back with `wait_for_replies`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from stack.processes import free_port

TOKEN = "123456789:TEST-kennel-fake-token"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Kennel", "username": "kennel_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    refused: bool = False  # answered 429

    @property
    def chat_id(self) -> int | None:
        raw = self.params.get("chat_id")
        return None if raw is None else int(raw)


@dataclass
class Reply:
    chat_id: int
    text: str
    reply_to: int | None


@dataclass
class _State:
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    fail_next: dict[str, int] = field(default_factory=dict)


def _parse(value: str) -> Any:
    """aiogram sends scalars as text and objects as JSON text."""
    if value[:1] in "[{":
        return json.loads(value)
    return value


class FakeTelegram:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._state = _State()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._new_update = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-telegram")
        self._runner: web.AppRunner | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeTelegram:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    # --- what tests do ---------------------------------------------------------------------
    def fail_next(self, method: str, retry_after: int = 1) -> None:
        """Answer the next call of `method` with 429 Too Many Requests."""
        with self._lock:
            self._state.fail_next[method] = retry_after

    def send_text(self, chat_id: int, text: str) -> int:
        return self._push(chat_id, {"text": text})

    def send_sticker(self, chat_id: int) -> int:
        sticker = {
            "file_id": "sticker-1", "file_unique_id": "sticker-1", "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False,
        }  # fmt: skip
        return self._push(chat_id, {"sticker": sticker})

    def send_photo(
        self,
        chat_id: int,
        data: bytes,
        size: tuple[int, int] = (1280, 960),
        file_size: int | None = None,
        media_group_id: str | None = None,
    ) -> int:
        """A photo as Telegram sends it: a small thumbnail (not the photo!) and the full size."""
        thumb = self._file(b"a thumbnail, not an image", "photos/thumb")
        full = self._file(data, "photos/full")
        sizes = [
            {**thumb, "width": 90, "height": 67, "file_size": 25},
            {**full, "width": size[0], "height": size[1], "file_size": file_size or len(data)},
        ]
        extra = {"media_group_id": media_group_id} if media_group_id else {}
        return self._push(chat_id, {"photo": sizes, **extra})

    def send_document(
        self, chat_id: int, data: bytes, mime_type: str, file_size: int | None = None
    ) -> int:
        document = {
            **self._file(data, "documents/file"),
            "file_name": "upload",
            "mime_type": mime_type,
            "file_size": file_size or len(data),
        }
        return self._push(chat_id, {"document": document})

    def last_file_id(self) -> str:
        with self._lock:
            return list(self._state.files)[-1]

    def calls(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        with self._lock:
            calls = list(self._state.calls)
        return [
            c
            for c in calls
            if (method is None or c.method == method) and (chat_id is None or c.chat_id == chat_id)
        ]

    def replies(self, chat_id: int) -> list[Reply]:
        return [
            Reply(
                chat_id,
                c.params["text"],
                c.params.get("reply_parameters", {}).get("message_id"),
            )
            for c in self.calls("sendMessage", chat_id)
            if not c.refused
        ]

    def wait_for_replies(self, chat_id: int, count: int = 1, timeout_s: float = 30) -> list[Reply]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            replies = self.replies(chat_id)
            if len(replies) >= count:
                return replies
            time.sleep(0.05)
        raise AssertionError(
            f"chat {chat_id}: {len(self.replies(chat_id))} of {count} replies after {timeout_s}s:"
            f" {self.replies(chat_id)}"
        )

    # --- internals -------------------------------------------------------------------------
    def _file(self, data: bytes, prefix: str) -> dict[str, Any]:
        n = next(self._ids)
        file_id = f"file-{n}"
        with self._lock:
            self._state.files[file_id] = (f"{prefix}/{n}.bin", data)
        return {"file_id": file_id, "file_unique_id": f"unique-{n}"}

    def _push(self, chat_id: int, content: dict[str, Any]) -> int:
        update = self.update(chat_id, content)
        with self._lock:
            self._state.updates.append(update)
        self._loop.call_soon_threadsafe(self._new_update.set)
        return int(update["message"]["message_id"])

    def update(self, chat_id: int, content: dict[str, Any]) -> dict[str, Any]:
        """An Update with a private-chat message, as Telegram would deliver it."""
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Tester"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Tester"},
            **content,
        }
        return {"update_id": next(self._ids), "message": message}

    def _pending(self, offset: int) -> list[dict[str, Any]]:
        with self._lock:
            self._state.updates = [u for u in self._state.updates if u["update_id"] >= offset]
            return list(self._state.updates[:100])

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0))
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), 30)
        while not (updates := self._pending(offset)) and time.monotonic() < deadline:
            self._new_update.clear()
            if self._pending(offset):
                continue
            remaining = max(deadline - time.monotonic(), 0)
            try:
                await asyncio.wait_for(self._new_update.wait(), remaining)
            except TimeoutError:
                break
        return updates

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        form = await request.post()
        params = {key: _parse(str(value)) for key, value in form.items()}
        with self._lock:
            retry_after = self._state.fail_next.pop(method, None)
            self._state.calls.append(Call(method, params, refused=retry_after is not None))
        if retry_after is not None:
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after},
                },
                status=429,
            )
        return web.json_response({"ok": True, "result": await self._result(method, params)})

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "getFile":
            with self._lock:
                path, data = self._state.files.get(params["file_id"], ("", b""))
            if not path:
                raise web.HTTPBadRequest(
                    text=json.dumps({"ok": False, "error_code": 400, "description": "bad file_id"}),
                    content_type="application/json",
                )
            return {
                "file_id": params["file_id"],
                "file_unique_id": params["file_id"],
                "file_size": len(data),
                "file_path": path,
            }
        if method == "sendMessage":
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": params["text"],
            }
        return True  # sendChatAction, deleteWebhook, setWebhook ...

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        with self._lock:
            found = [data for p, data in self._state.files.values() if p == path]
        if not found:
            raise web.HTTPNotFound()
        return web.Response(body=found[0])
