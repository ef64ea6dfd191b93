"""The signed-in applicant's Data Management Repository (Decree 45/2020/ND-CP Art. 16, 17)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from .. import repository_domain
from ..dispatch import Context, Reply, Router
from ..files import check_upload, file_info, load_blob, store_blob
from ..ids import new_id
from ..pagination import page_of_rows
from ..problems import Problem, unprocessable
from ..tables import repository_items

router = Router()

DIGITISED = "digitised-document"
ACCEPTED_MEDIA_TYPES = ["application/pdf", "image/png", "image/jpeg"]
MAX_DIGITISED_BYTES = 10_000_000
"""10 MB once decoded (repository spec, ``addRepositoryItem``)."""


@router.operation("listRepositoryItems")
def list_repository_items(ctx: Context) -> Reply:
    owner = ctx.caller.owner_key
    conditions = [repository_items.c.owner_key == owner]
    if kind := ctx.query.get("kind"):
        conditions.append(repository_items.c.kind == kind)
    with ctx.transaction() as conn:
        if ctx.fault("repository-new-account-404"):  # created with the first item stored
            rows, cursor = page_of_rows(conn, repository_items, conditions, ctx.query)
            if not rows and "cursor" not in ctx.query:
                raise Problem(404, "You have no Data Management Repository yet.", "not-found")
        # The Repository always holds its owner's identity (Circular 01/2023/TT-VPCP Art. 24).
        repository_domain.ensure_owner_identity(conn, ctx.services, ctx.caller)
        rows, cursor = page_of_rows(conn, repository_items, conditions, ctx.query)
    return Reply(body={"items": [row.doc for row in rows], "nextCursor": cursor})


@router.operation("addRepositoryItem")
def add_repository_item(ctx: Context) -> Reply:
    upload = ctx.body["file"]
    limit = min(MAX_DIGITISED_BYTES, ctx.services.settings.max_file_bytes)
    content, errors = check_upload(upload, "/file", limit, ACCEPTED_MEDIA_TYPES)
    if errors or content is None:
        raise unprocessable("The file was refused; nothing was stored.", errors)
    with ctx.transaction() as conn:
        repository_domain.ensure_owner_identity(conn, ctx.services, ctx.caller)
        store_blob(conn, content, upload["mediaType"])
        item = repository_domain.add_item(
            conn,
            ctx.services,
            ctx.caller.owner_key,
            DIGITISED,
            # Each upload is a new item: the owner may keep two scans of one document.
            new_id(),
            _title(ctx),
            {},
            file_info(upload["fileName"], upload["mediaType"], content),
            ctx.body["metadata"],
        )
    return Reply(status=201, body=item, headers={"Location": f"/repository/items/{item['id']}"})


def _title(ctx: Context) -> str:
    title: str = ctx.body["title"]
    return unicodedata.normalize("NFD", title) if ctx.fault("repository-title-nfd") else title


@router.operation("getRepositoryItem")
def get_repository_item(ctx: Context) -> Reply:
    anyone = ctx.fault("repository-cross-owner")
    with ctx.transaction() as conn:
        item = repository_domain.load_item(
            conn, ctx.caller.owner_key, ctx.path["itemId"], anyone=anyone
        )
    return Reply(body=item)


@router.operation("downloadRepositoryItem")
def download_repository_item(ctx: Context) -> Reply:
    item_id = ctx.path["itemId"]
    anyone = ctx.fault("repository-cross-owner")
    with ctx.transaction() as conn:
        item = repository_domain.load_item(conn, ctx.caller.owner_key, item_id, anyone=anyone)
        file = item.get("file")
        found = load_blob(conn, file["sha256"]) if file else None
    if file is None or found is None:
        raise Problem(
            404,
            f"Repository item {item_id} ({item['kind']}) exists but has no file to download; "
            "getRepositoryItem returns its data.",
            "not-found",
        )
    content = found[0][:-1] if ctx.fault("repository-file-truncated") else found[0]
    return Reply(
        body=content,
        media_type=file["mediaType"],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file['fileName'])}"},
    )
