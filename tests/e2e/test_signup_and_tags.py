"""The admin's sign-up switch (web forms, CSRF included) and /api/*-tags-by-type."""

from __future__ import annotations

import re

import httpx
from huggingface_hub import HfApi

from ..conftest import ENDPOINT, Server, agora


def csrf(client: httpx.Client, path: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(path).text)
    assert m, path
    return m.group(1)


def test_admin_switch_opens_and_closes_sign_up(server: Server) -> None:
    agora("user", "add", "root", "--admin", "--password-stdin", data=server.data, stdin="root-password\n")
    with httpx.Client(base_url=ENDPOINT, follow_redirects=False) as anon:
        assert anon.get("/join").status_code == 403  # closed by default
        r = anon.post(
            "/join", data={"csrf": csrf(anon, "/login"), "username": "eve", "password": "eve-password"}
        )
        assert r.status_code == 403
    with httpx.Client(base_url=ENDPOINT, follow_redirects=False) as admin:
        r = admin.post(
            "/login",
            data={
                "csrf": csrf(admin, "/login"),
                "username": "root",
                "password": "root-password",
                "next": "/",
            },
        )
        assert r.status_code == 303 and "agora_session" in r.cookies
        assert admin.post("/settings/site", data={"csrf": "forged", "signup": "on"}).status_code == 403
        r = admin.post("/settings/site", data={"csrf": csrf(admin, "/settings/site"), "signup": "on"})
        assert r.status_code == 303
    try:
        with httpx.Client(base_url=ENDPOINT, follow_redirects=False) as anon:
            r = anon.post("/join", data={"csrf": csrf(anon, "/join"), "username": "eve", "password": "short"})
            assert r.status_code == 400
            r = anon.post(
                "/join", data={"csrf": csrf(anon, "/join"), "username": "eve", "password": "eve-password"}
            )
            assert r.status_code == 303 and "agora_session" in r.cookies
            assert "<summary>eve</summary>" in anon.get("/").text  # logged in as the new user
            r = anon.post(
                "/join", data={"csrf": csrf(anon, "/join"), "username": "eve", "password": "eve-password"}
            )
            assert r.status_code == 400  # the name is taken
    finally:
        with httpx.Client(base_url=ENDPOINT, follow_redirects=False) as admin:
            admin.post(
                "/login",
                data={
                    "csrf": csrf(admin, "/login"),
                    "username": "root",
                    "password": "root-password",
                    "next": "/",
                },
            )
            admin.post("/settings/site", data={"csrf": csrf(admin, "/settings/site")})
    with httpx.Client(base_url=ENDPOINT) as anon:
        assert anon.get("/join").status_code == 403


def test_tags_by_type(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(
        path_or_fileobj=b"---\nlicense: mit\nlanguage: fr\nlibrary_name: sklearn\n---\n",
        path_in_repo="README.md",
        repo_id=rid,
    )
    tags = httpx.get(f"{ENDPOINT}/api/models-tags-by-type").json()
    assert {"id": "license:mit", "label": "mit", "type": "license"} in tags["license"]
    assert "fr" in [t["id"] for t in tags["language"]]
    assert "sklearn" in [t["id"] for t in tags["library"]]
    assert "text-classification" in [t["id"] for t in tags["pipeline_tag"]]
