"""The component documents of dossiers: attach, replace, remove, keep every version.

A dossier's ``components`` are the current ones; every component ever attached is also kept in
``dossier_components`` so that a replaced one stays downloadable and the history can say what
a supplement replaced (Decree 45/2020/ND-CP Art. 12, Art. 17). A component added while a
supplement is asked for is ``pending`` until the supplement is sent.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Connection, delete, insert, select, update

from .automatic_check import (
    repository_item,
    requirement_of,
    size_limit,
    stored_file_errors,
    unknown_component,
)
from .files import check_upload, file_info, store_blob
from .ids import new_id
from .problems import FieldError, not_found
from .tables import dossier_components

if TYPE_CHECKING:
    from .services import Services

Change = dict[str, str]
"""One entry of a history entry's ``changes``: a component code and its digests."""


def build(
    connection: Connection,
    services: Services,
    owner_key: str,
    procedure: dict[str, Any],
    given: dict[str, Any],
    pointer: str,
    now: str,
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """A new component from an upload or a Repository reference, or every reason it is refused.

    ``given`` is a ``componentInput``; ``pointer`` is where it sits in the request body.
    Uploads are checked against the component's media types and size limit; a Repository
    item must be ``owner_key``'s, valid, with a file that fits the component.
    """
    code = given["componentCode"]
    requirement = requirement_of(procedure, code)
    if requirement is None:
        return None, [unknown_component(procedure, code, f"{pointer}/componentCode")]
    component: dict[str, Any] = {"id": f"cmp-{new_id()}", "componentCode": code}
    if "file" in given:
        upload = given["file"]
        limit = size_limit(services, requirement)
        content, errors = check_upload(
            upload,
            f"{pointer}/file",
            limit,
            requirement["mediaTypes"],
            trust_declared_type=services.settings.has_fault("skip-content-sniffing"),
        )
        if errors or content is None:
            return None, errors
        signed = "signature" in upload
        if signed:
            refused = services.signatures.reason(upload["signature"], content)
            if refused:
                return None, [FieldError(f"{pointer}/file/signature", refused, "signature")]
        store_blob(connection, content, upload["mediaType"])
        name = upload["fileName"]
        if services.settings.has_fault("file-name-nfd"):
            name = unicodedata.normalize("NFD", name)
        info = file_info(name, upload["mediaType"], content)
        if signed:
            info["signed"] = True
        component.update(source="upload", file=info)
    else:
        at = f"{pointer}/repositoryItemId"
        item, errors = repository_item(connection, owner_key, given["repositoryItemId"], at)
        if item is None:
            return None, errors
        errors = stored_file_errors(services, requirement, item["file"], at)
        if errors:
            return None, errors
        component.update(source="repository", repositoryItemId=item["id"], file=dict(item["file"]))
    component["addedAt"] = now
    return component, []


def place(
    connection: Connection, document: dict[str, Any], component: dict[str, Any], pending: bool
) -> Change:
    """Attach ``component``, replacing the current one of its code; return the history change."""
    change: Change = {"componentCode": component["componentCode"]}
    components = document["components"]
    for index, current in enumerate(components):
        if current["componentCode"] == component["componentCode"]:
            component["supersedes"] = current["id"]
            change["before"] = current["file"]["sha256"]
            components[index] = component
            break
    else:
        components.append(component)
    change["after"] = component["file"]["sha256"]
    connection.execute(
        insert(dossier_components).values(
            id=component["id"], dossier_id=document["id"], pending=int(pending), doc=component
        )
    )
    return change


def stored(
    connection: Connection, dossier_id: str, component_id: str
) -> tuple[dict[str, Any], bool]:
    """A component ever attached to the dossier (replaced ones too), and whether it is pending."""
    row = connection.execute(
        select(dossier_components.c.doc, dossier_components.c.pending).where(
            dossier_components.c.id == component_id,
            dossier_components.c.dossier_id == dossier_id,
        )
    ).first()
    if row is None:
        raise not_found("component", component_id)
    return dict(row.doc), bool(row.pending)


def pending(connection: Connection, dossier_id: str) -> dict[str, dict[str, Any]]:
    """The components added since the supplement request, by id."""
    rows = connection.execute(
        select(dossier_components.c.id, dossier_components.c.doc).where(
            dossier_components.c.dossier_id == dossier_id, dossier_components.c.pending == 1
        )
    )
    return {row.id: dict(row.doc) for row in rows}


def supplement_changes(connection: Connection, document: dict[str, Any]) -> list[Change]:
    """What a supplement changed: each current component added since the request, by digest.

    ``before`` is what the agency held (a replacement replaced during the supplement is
    followed back to the component the agency had received), ``after`` what it holds now.
    """
    added = pending(connection, document["id"])
    changes = []
    for component in document["components"]:
        if component["id"] not in added:
            continue
        change: Change = {"componentCode": component["componentCode"]}
        previous = component.get("supersedes")
        while previous in added:
            previous = added[previous].get("supersedes")
        if previous is not None:
            held, _ = stored(connection, document["id"], previous)
            change["before"] = held["file"]["sha256"]
        change["after"] = component["file"]["sha256"]
        changes.append(change)
    return changes


def settle(connection: Connection, dossier_id: str) -> None:
    """The supplement is sent: nothing is pending any more."""
    connection.execute(
        update(dossier_components)
        .where(dossier_components.c.dossier_id == dossier_id)
        .values(pending=0)
    )


def forget(connection: Connection, dossier_id: str) -> None:
    """Drop every component record of a deleted draft (the blobs stay, shared by hash)."""
    connection.execute(
        delete(dossier_components).where(dossier_components.c.dossier_id == dossier_id)
    )


def content_disposition(file_name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266, RFC 8187)."""
    folded = unicodedata.normalize("NFKD", file_name.replace("đ", "d").replace("Đ", "D"))
    kept = (c for c in folded if c.isascii() and not unicodedata.combining(c) and c not in '"\\')
    fallback = "".join(c if 32 <= ord(c) < 127 else "_" for c in kept) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"
