"""The inference inputs decoded in the workers (handlers.py: magic bytes, WAV, resampling, images, chat
messages), and the hub helpers the Inference API uses for limits and access (throttle, hub/admission.py)."""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
import pytest

from agora.errors import GatewayTimeout
from agora.hub import accounts, throttle
from agora.hub.accounts import Principal
from agora.hub.repos import Hub

from .conftest import RID, run_async

handlers = pytest.importorskip("agora.inference.handlers")


def wav(samples: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes((samples * 32767).astype("<i2").tobytes())
        elif width == 3:
            v = (samples * (2**23 - 1)).astype("<i4")
            w.writeframes(b"".join(int(x).to_bytes(4, "little", signed=True)[:3] for x in v))
        else:
            w.writeframes(((samples * 127) + 128).astype(np.uint8).tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"RIFF\0\0\0\0WAVEfmt ", "wav"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
        (b'fLaC\0\0\0"', "flac"),
        (b"OggS\0\2", "ogg"),
        (b"ID3\4\0", "mp3"),
        (b"\xff\xfb\x90\x64", "mp3"),
        (b"\x89PNG\r\n\x1a\n\0", "png"),
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"GIF89a", "gif"),
        (b"BM6\0", "bmp"),
        (b'{"inputs": 1}', None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, kind: str | None) -> None:
    assert handlers.sniff(head) == kind


@pytest.mark.parametrize("width", [1, 2, 3])
def test_wav_widths_and_channels(width: int) -> None:
    t = np.arange(800) / 8000
    x = (np.sin(2 * np.pi * 200 * t) * 0.5).astype(np.float32)
    samples, rate = handlers.decode_audio(wav(x, 8000, width))
    assert rate == 8000 and samples.dtype == np.float32 and len(samples) == 800
    assert np.abs(samples - x).max() < 0.02
    stereo = wav(np.repeat(x, 2), 8000, 2, channels=2)  # interleaved: the mean of both channels
    mono, _ = handlers.decode_audio(stereo)
    assert len(mono) == 800 and np.abs(mono - x).max() < 1e-3


def test_audio_limits_and_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(handlers.LIMITS, "max_audio_seconds", 1)
    with pytest.raises(handlers.InputTooLarge, match="AGORA_INFER_MAX_AUDIO_SECONDS"):
        handlers.decode_audio(wav(np.zeros(16001, np.float32), 16000))
    with pytest.raises(handlers.BadInput, match="FLAC"):  # no soundfile here: said, not guessed
        handlers.decode_audio(b"fLaC" + bytes(64))
    with pytest.raises(handlers.BadInput, match="could not be decoded"):
        handlers.decode_audio(b"RIFF\0\0\0\0WAVEjunk")
    with pytest.raises(handlers.BadInput, match="not valid base64"):
        handlers.binary_input("not base64!")


def test_resample() -> None:
    x = np.sin(np.linspace(0, 20, 8000)).astype(np.float32)
    y = handlers.resample(x, 8000, 16000)
    assert len(y) == 16000 and y.dtype == np.float32 and abs(float(y[-1]) - float(x[-1])) < 1e-6
    assert handlers.resample(x, 16000, 16000) is x


def test_image_pixel_cap_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (3000, 3000)).save(buf, "PNG")
    monkeypatch.setitem(handlers.LIMITS, "max_image_pixels", 1_000_000)
    with pytest.raises(handlers.InputTooLarge, match="AGORA_INFER_MAX_IMAGE_PIXELS"):
        handlers.decode_image(buf.getvalue())  # past twice the cap: Pillow's own guard says it
    monkeypatch.setitem(handlers.LIMITS, "max_image_pixels", 5_000_000)
    with pytest.raises(handlers.InputTooLarge, match="3000x3000"):
        handlers.decode_image(buf.getvalue())  # checked before any pixel is decoded
    small = io.BytesIO()
    Image.new("L", (10, 20)).save(small, "BMP")
    im = handlers.decode_image(base64.b64decode(base64.b64encode(small.getvalue())))
    assert im.mode == "RGB" and im.size == (10, 20)
    with pytest.raises(handlers.BadInput, match="not an image"):
        handlers.decode_image(b"%PDF-1.7")


def test_chat_messages() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    got = handlers.chat_messages([{"role": "user", "content": parts}, {"role": "assistant", "content": None}])
    assert got == [{"role": "user", "content": "ab"}, {"role": "assistant", "content": ""}]
    for bad in ([], "hi", [{"role": "robot", "content": "x"}], [{"role": "user", "content": 3}],
                [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]):  # fmt: skip
        with pytest.raises(handlers.BadInput):
            handlers.chat_messages(bad)


def test_rate_limit_counter(hub: Hub) -> None:
    """At most `limit` per window; the wait is what is left of the window; another key is counted apart."""
    with hub.db.session() as s:
        waits = [throttle.take(s, "infer:user:a", 3, 60) for _ in range(5)]
        assert throttle.take(s, "infer:ip:127.0.0.1", 3, 60) == 0
    assert waits[:3] == [0, 0, 0] and all(0 < w <= 60 for w in waits[3:])


def test_rate_limit_leases(hub: Hub) -> None:
    """Two processes (two Leases) lease a limit of 128 two requests at a time from one counter: together
    they let exactly 128 through, then both refuse; the database is written once per lease, not per request."""
    from agora.db.models import LoginFailure

    a, b = throttle.Leases(), throttle.Leases()
    admitted = refused = 0
    with hub.db.session() as s:
        for i in range(200):
            if (a if i % 2 else b).take(s, "infer:user:x", 128, 60) == 0:
                admitted += 1
            else:
                refused += 1
    assert (admitted, refused) == (128, 72)
    one = throttle.Leases()
    with hub.db.session() as s:
        for _ in range(50):
            assert one.take(s, "infer:user:y", 6400, 60) == 0  # leases of 100
        row = s.get(LoginFailure, "infer:user:y")
        assert row is not None and row.failures == 100


def test_admission(hub: Hub, who: Principal) -> None:
    """One visit: a bad token is Unauthorized, a private repo is not found by others, the gate is shut to
    anyone but the namespace's members, and the caller is counted against the rate limit."""
    from agora.errors import RepoNotFound, Unauthorized
    from agora.hub import admission, gating

    rate = admission.RateLimit(3, 60)
    with hub.db.session() as s:
        accounts.create_user(s, "bob", "bob-password")
        alice, bob = accounts.create_token(s, "alice"), accounts.create_token(s, "bob")
    with pytest.raises(Unauthorized):
        admission.admit(hub, "hf_nope", "", RID, rate)
    got = admission.admit(hub, alice, "", RID, rate)
    assert got.who is not None and got.who.name == "alice" and got.repo.name == "m" and not got.gated
    hub.change_settings(who, RID, True, None)
    with pytest.raises(RepoNotFound):
        admission.admit(hub, bob, "", RID, rate)
    with pytest.raises(RepoNotFound):
        admission.admit(hub, None, "10.0.0.9", RID, rate)
    hub.change_settings(who, RID, False, "manual")
    assert admission.admit(hub, bob, "", RID, rate).gated
    assert admission.admit(hub, None, "10.0.0.9", RID, rate).gated
    assert not admission.admit(hub, alice, "", RID, rate).gated
    gating.give(hub, who, RID, "bob")  # an accepted access request opens the gate (hub/gating.py)
    assert not admission.admit(hub, bob, "", RID, rate).gated
    assert admission.admit(hub, alice, "", RID, rate).wait == 0  # alice's 3rd request in the window
    assert admission.admit(hub, alice, "", RID, rate).wait > 0  # her 4th


def test_rate_limit_cleanup_keeps_login_failures(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate counter's clean-up (its window is short) must not forget a log-in throttle's row (900 s)."""
    from datetime import timedelta

    from agora.db.models import LoginFailure, utcnow

    old = utcnow() - timedelta(seconds=600)
    with hub.db.session() as s:
        s.add(LoginFailure(key="ip:10.0.0.1", failures=40, first_at=old, last_at=old))
        s.add(LoginFailure(key="infer:ip:10.0.0.2", failures=5, first_at=old, last_at=old))
    monkeypatch.setattr(throttle.random, "random", lambda: 0.0)  # the clean-up runs
    with hub.db.session() as s:
        throttle.take(s, "infer:ip:10.0.0.3", 10, 60)
    with hub.db.session() as s:
        assert s.get(LoginFailure, "ip:10.0.0.1") is not None
        assert s.get(LoginFailure, "infer:ip:10.0.0.2") is None


def chat_lines(frames: list[dict[str, Any] | Exception]) -> list[str]:
    """The SSE lines `chat_sse` writes for these pool frames (an exception: raised at that point)."""
    from agora.http.api.inference import chat_sse

    async def gen() -> AsyncGenerator[dict[str, Any], None]:
        for f in frames:
            if isinstance(f, Exception):
                raise f
            yield f

    async def collect() -> list[str]:
        r = await chat_sse(gen(), {"id": "chatcmpl-1", "created": 1, "model": "a/b"})
        body = b"".join([c if isinstance(c, bytes) else c.encode() async for c in r.body_iterator])
        return body.decode().splitlines()

    return run_async(collect())


def test_chat_stream_shapes_as_the_client_reads_them() -> None:
    """The chunks parse into ChatCompletionStreamOutput; [DONE] ends the stream; an error after the first
    chunk is an event the client raises (its own parser, huggingface_hub's)."""
    from huggingface_hub.errors import GenerationError
    from huggingface_hub.inference._common import _stream_chat_completion_response

    done = {"ok": {"content": "ab", "tail": "b", "finish_reason": "length", "usage": {"prompt_tokens": 3,
            "completion_tokens": 2, "total_tokens": 5}}}  # fmt: skip
    out = list(_stream_chat_completion_response(chat_lines([{"chunk": {"delta": "a"}}, done])))
    assert "".join(c.choices[0].delta.content or "" for c in out) == "ab"
    assert out[0].choices[0].delta.role == "assistant" and out[-1].choices[0].finish_reason == "length"
    assert out[-1].usage is not None and out[-1].usage.total_tokens == 5
    lines = chat_lines([{"chunk": {"delta": "a"}}, GatewayTimeout("The model ran past its deadline")])
    assert "[DONE]" not in "".join(lines)
    with pytest.raises(GenerationError, match="deadline"):
        list(_stream_chat_completion_response(lines))
    with pytest.raises(GatewayTimeout):  # before the first chunk: a plain error answer (a status)
        chat_lines([GatewayTimeout("too slow")])


def test_chat_stream_never_sends_a_stop_sequence() -> None:
    sent: list[str] = []
    stream = handlers.ChatStream(lambda e: sent.append(e["delta"]), ["<|user|>"])
    for piece in ["Hel", "lo", " <|", "us", "er|>", "more"]:
        stream({"token": {"text": piece}})
    assert "".join(sent) == "Hello " and stream.tail("Hello ") == ""
    plain: list[str] = []
    s2 = handlers.ChatStream(lambda e: plain.append(e["delta"]), [])
    for piece in ["a", "", "b"]:
        s2({"token": {"text": piece}})
    assert plain == ["a", "b"] and s2.tail("abc") == "c"  # the last token comes with the answer
