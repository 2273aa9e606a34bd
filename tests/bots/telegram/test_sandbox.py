"""The fake Bot API answers the real telegram.Bot the way Telegram does, errors by HTTP status."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import BadRequest, Conflict, InvalidToken

from bots.telegram.sandbox.fake_api import FakeBotApi
from tests.bots.telegram.conftest import TOKEN


def _bot(fake: FakeBotApi, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=fake.base_url, base_file_url=fake.base_file_url)


async def test_form_encoded_calls_and_answers(fake: FakeBotApi) -> None:
    """getMe, setWebhook and getWebhookInfo round-trip; JSON-encoded form values are decoded."""
    async with _bot(fake) as bot:
        assert bot.username == "chatkeeper_bot"
        await bot.set_webhook(
            "https://127.0.0.1/hook", secret_token="s", allowed_updates=["message"]
        )
        info = await bot.get_webhook_info()
    assert info.url == "https://127.0.0.1/hook"
    assert info.allowed_updates == ("message",)
    assert fake.state.calls("setWebhook")[0]["allowed_updates"] == ["message"]


async def test_errors_follow_http_status(fake: FakeBotApi) -> None:
    """Wrong token is 401, getUpdates under a webhook is 409, a bad file_id is 400."""
    with pytest.raises(InvalidToken):
        async with _bot(fake, "1:wrong") as bot:
            pass
    async with _bot(fake) as bot:
        await bot.set_webhook("https://127.0.0.1/hook")
        with pytest.raises(Conflict):
            await bot.get_updates()
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")
        await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()


async def test_file_download(fake: FakeBotApi) -> None:
    """getFile gives a path, and the file endpoint serves the bytes to Bot's own download."""
    data = b"\x00\x01 payload"
    hosted = fake.add_file(data, name="a.bin")
    async with _bot(fake) as bot:
        file = await bot.get_file(hosted["file_id"])
        assert file.file_unique_id == hosted["file_unique_id"]
        assert bytes(await file.download_as_bytearray()) == data
    assert fake.state.downloads == ["documents/a.bin"]
