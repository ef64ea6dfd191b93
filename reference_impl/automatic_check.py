"""The automatic technical check of a dossier (Decree 45/2020/ND-CP Art. 11).

Run when a draft is submitted and again on a supplement: the form against the procedure's
e-form, every required component present, each file still within the procedure's media types
and size, every Repository reference still the applicant's, valid and with a file, and a
valid signature on every file the procedure wants signed. Each check
returns every reason it finds, so a refused dossier carries them all at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from .problems import FieldError
from .tables import repository_items
from .validation import schema_errors

SIGNED_KINDS = frozenset({"result", "ecopy"})
"""Repository items the state signed itself, accepted as signed components."""

if TYPE_CHECKING:
    from .services import Services


def procedure_of(services: Services, document: dict[str, Any]) -> dict[str, Any]:
    """The catalogue entry of the dossier's procedure."""
    return services.fixtures.procedures[document["procedureCode"]]


def requirement_of(procedure: dict[str, Any], component_code: str) -> dict[str, Any] | None:
    """What the procedure asks of the component ``component_code``, if it lists it."""
    return next((c for c in procedure["components"] if c["code"] == component_code), None)


def size_limit(services: Services, requirement: dict[str, Any]) -> int:
    """The largest file accepted for a component: the procedure's limit, at most the server's."""
    return min(int(requirement["maxBytes"]), services.settings.max_file_bytes)


def unknown_component(procedure: dict[str, Any], component_code: str, pointer: str) -> FieldError:
    """The reason a component code the procedure does not list is refused."""
    listed = ", ".join(c["code"] for c in procedure["components"])
    return FieldError(
        pointer,
        f"Thủ tục {procedure['code']} không có thành phần {component_code!r}; "
        f"các thành phần của thủ tục: {listed}.",
        "component-unknown",
    )


def stored_file_errors(
    services: Services, requirement: dict[str, Any], info: dict[str, Any], pointer: str
) -> list[FieldError]:
    """Why an already stored file no longer fits the component's media types or size."""
    errors = []
    if info["mediaType"] not in requirement["mediaTypes"]:
        errors.append(
            FieldError(
                pointer,
                f"Tệp {info['fileName']!r} có định dạng {info['mediaType']}; thành phần "
                f"{requirement['code']} chỉ nhận {', '.join(requirement['mediaTypes'])}.",
                "media-type",
            )
        )
    limit = size_limit(services, requirement)
    if info["size"] > limit:
        errors.append(
            FieldError(
                pointer,
                f"Tệp {info['fileName']!r} dung lượng {info['size']} byte; thành phần "
                f"{requirement['code']} chỉ nhận tối đa {limit} byte.",
                "file-size",
            )
        )
    return errors


def repository_item(
    connection: Connection, owner_key: str, item_id: str, pointer: str
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The caller's usable Repository item ``item_id``, or why it cannot be referenced.

    Usable means: it is the caller's own, it is ``valid`` (a cancelled result is not), and it
    has a file to attach. Another owner's item reads as missing, so nothing about it leaks.
    """
    found = connection.execute(
        select(repository_items.c.doc).where(
            repository_items.c.id == item_id, repository_items.c.owner_key == owner_key
        )
    ).scalar()
    if found is None:
        detail = f"Không có mục {item_id!r} trong Kho quản lý dữ liệu điện tử của bạn."
        return None, [FieldError(pointer, detail, "repository-item")]
    item = dict(found)
    errors = []
    if item.get("status") != "valid":
        detail = (
            f"Mục {item_id!r} của Kho có trạng thái {item.get('status')}; "
            "chỉ dùng được mục còn hiệu lực."
        )
        errors.append(FieldError(pointer, detail, "repository-item"))
    if not item.get("file"):
        detail = f"Mục {item_id!r} của Kho không có tệp để đính kèm."
        errors.append(FieldError(pointer, detail, "repository-item"))
    return (None, errors) if errors else (item, [])


def form_errors(services: Services, procedure_code: str, form: dict[str, Any]) -> list[FieldError]:
    """Every way the form breaks the procedure's e-form, with pointers under ``/form``."""
    validator = services.fixtures.form_validators[procedure_code]
    return schema_errors(validator, form, "/form")


def _missing_components(
    procedure: dict[str, Any], components: list[dict[str, Any]]
) -> list[FieldError]:
    present = {c["componentCode"] for c in components}
    return [
        FieldError(
            "/components",
            f"Thiếu thành phần hồ sơ bắt buộc {required['code']!r} ({required['name']}).",
            "component-missing",
        )
        for required in procedure["components"]
        if required["required"] and required["code"] not in present
    ]


def _component_errors(
    connection: Connection,
    services: Services,
    procedure: dict[str, Any],
    owner_key: str,
    index: int,
    component: dict[str, Any],
) -> list[FieldError]:
    pointer = f"/components/{index}"
    requirement = requirement_of(procedure, component["componentCode"])
    if requirement is None:
        return [
            unknown_component(procedure, component["componentCode"], f"{pointer}/componentCode")
        ]
    errors = stored_file_errors(services, requirement, component["file"], f"{pointer}/file")
    item = None
    if component["source"] == "repository":
        item, problems = repository_item(
            connection, owner_key, component["repositoryItemId"], f"{pointer}/repositoryItemId"
        )
        errors.extend(problems)
    wants_signature = requirement.get("signatureRequired") and not services.settings.has_fault(
        "signature-not-checked"
    )
    if wants_signature and not _signed(component, item):
        errors.append(_unsigned(requirement, pointer))
    return errors


def _signed(component: dict[str, Any], item: dict[str, Any] | None) -> bool:
    """True when the component's file carries a signature the portal verified or trusts.

    An upload is signed when its signature was verified as it was attached; a Repository
    item the state issued and signed itself (an e-result, a certified e-copy) is signed as it
    is (Decree 45/2020/ND-CP Art. 6(2)); a document the owner digitised is not.
    """
    if component["source"] == "upload":
        return bool(component["file"].get("signed"))
    return item is not None and item.get("kind") in SIGNED_KINDS


def _unsigned(requirement: dict[str, Any], pointer: str) -> FieldError:
    return FieldError(
        pointer,
        f"Thành phần {requirement['code']!r} ({requirement['name']}) phải được ký số: tệp "
        "cần kèm chữ ký số hợp lệ của người ký (file.signature).",
        "signature-missing",
    )


def technical_check(
    connection: Connection, services: Services, document: dict[str, Any], owner_key: str
) -> list[FieldError]:
    """Every reason the dossier fails the automatic technical check (empty when it passes).

    Pointers name the place in the dossier: ``/form/...``, ``/components`` (a missing
    component) and ``/components/<i>/...`` (a component that no longer fits).
    """
    procedure = procedure_of(services, document)
    faults = services.settings.faults
    errors = form_errors(services, procedure["code"], document["form"])
    if "accept-incomplete-dossier" not in faults:
        errors.extend(_missing_components(procedure, document["components"]))
    for index, component in enumerate(document["components"]):
        errors.extend(
            _component_errors(connection, services, procedure, owner_key, index, component)
        )
    return errors[:1] if "first-reason-only" in faults else errors
