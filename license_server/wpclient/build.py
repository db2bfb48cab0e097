"""Build the prefixed PHP client for one product (see the package docstring)."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from license_server import errors
from license_server.extensions import db
from license_server.models import Product
from license_server.services import products, vendors
from license_server.updates import release_keys

__all__ = [
    "ClientBuild",
    "build_files",
    "build_for_product",
    "default_prefix",
    "source_dir",
    "write_dir",
    "zip_bytes",
]

PREFIX = re.compile(r"[A-Z][A-Za-z0-9]{1,19}")
_TEXT_SUFFIXES = {".php", ".pot", ".md", ".txt"}
_PLACEHOLDER = "Lcwp"


@dataclass(frozen=True)
class ClientBuild:
    """What a built client pins: the server, the vendor's issuer, the product, keys."""

    server_url: str
    issuer: str
    product: str
    product_name: str
    keys: dict[str, str]  # kid -> base64url Ed25519 public key ("x")
    release_keys: list[str]  # standard base64 Ed25519 keys for wp_trusted_keys
    dev_patterns: list[str]


def default_prefix(product_slug: str) -> str:
    """Return a prefix derived from a product slug (``victim-theme``: VictimTheme)."""
    words = "".join(part.capitalize() for part in product_slug.split("-"))
    prefix = words if words[:1].isalpha() else "P" + words
    return prefix[:20] if len(prefix) >= 2 else prefix + "Theme"


def source_dir() -> Path:
    """Return the folder holding the PHP source (the repository's or the wheel's)."""
    repository = Path(__file__).resolve().parents[2] / "client" / "wordpress"
    if (repository / "license-client.php").is_file():
        return repository
    return Path(__file__).resolve().parent / "template"


def _php(value: Any, indent: str = "\t") -> str:
    """Render a value as a PHP literal (strings single-quoted and escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        items = "".join(f"{indent}\t{_php(v, indent + chr(9))},\n" for v in value)
        return f"array(\n{items}{indent})" if value else "array()"
    if isinstance(value, dict):
        items = "".join(
            f"{indent}\t{_php(k)} => {_php(v, indent + chr(9))},\n"
            for k, v in value.items()
        )
        return f"array(\n{items}{indent})" if value else "array()"
    raise TypeError(f"cannot render {type(value).__name__} as PHP")


def _config_php(build: ClientBuild, prefix: str) -> str:
    values = {
        "server_url": build.server_url.rstrip("/"),
        "issuer": build.issuer,
        "product": build.product,
        "product_name": build.product_name,
        "keys": build.keys,
        "release_keys": build.release_keys,
        "dev_patterns": build.dev_patterns,
    }
    body = "".join(f"\t{_php(k)} => {_php(v)},\n" for k, v in values.items())
    return (
        "<?php\n/**\n * Built by `license-server wp-client` for product "
        f"{build.product.replace('*/', '')}: do not edit; rebuild instead.\n *\n"
        f" * @package {prefix}\n */\n\n"
        f"if ( ! defined( 'ABSPATH' ) && ! defined( '{prefix.upper()}_TESTING' ) ) "
        "{\n\texit;\n}\n\nreturn array(\n" + body + ");\n"
    )


def _rename(text: str, prefix: str) -> str:
    lower = prefix.lower()
    text = text.replace("LCWP_", prefix.upper() + "_")
    text = text.replace("Lcwp_", prefix + "_")
    text = text.replace("@package Lcwp", "@package " + prefix)
    return text.replace("lcwp_", lower + "_").replace("lcwp-", lower + "-")


def build_files(build: ClientBuild, prefix: str) -> dict[str, bytes]:
    """Return the built client as ``{relative path: content}``."""
    if not PREFIX.fullmatch(prefix) or prefix.lower() == _PLACEHOLDER.lower():
        raise errors.ValidationFailed(
            "A prefix is 2-20 letters and digits starting with a capital letter, "
            "such as Acme (Lcwp, the source's own prefix, is taken).",
            detail={"prefix": ["e.g. Acme"]},
        )
    if not build.keys:
        raise errors.ValidationFailed("The vendor has no signing key to pin.")
    source = source_dir()
    files: dict[str, bytes] = {}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or relative.parts[0] == "tests":
            continue
        name = _rename(relative.as_posix(), prefix)
        if path.suffix in _TEXT_SUFFIXES:
            files[name] = _rename(path.read_text("utf-8"), prefix).encode("utf-8")
        else:
            files[name] = path.read_bytes()
    files["config.php"] = _config_php(build, prefix).encode("utf-8")
    return files


def write_dir(files: dict[str, bytes], out: Path) -> list[Path]:
    """Write the files under ``out``; return their paths."""
    written = []
    for name, content in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(target)
    return written


def zip_bytes(files: dict[str, bytes], folder: str) -> bytes:
    """Return the files as a ZIP, under one top folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _identifier(product: Product) -> str:
    """The product identifier the client sends: the bare slug when it names this
    product (the first to take it), else ``vendor/product`` (PROTOCOL §2)."""
    first = db.session.scalar(products.public_product_query(product.slug, [Product.id]))
    if first == product.id:
        return product.slug
    return f"{product.vendor.slug}/{product.slug}"


def build_for_product(
    *,
    vendor_id: uuid.UUID | None,
    product_slug: str | None = None,
    product_id: uuid.UUID | None = None,
    server_url: str,
) -> ClientBuild:
    """Collect what a product's client pins; another vendor's product is NotFound."""
    query = select(Product)
    if product_id is not None:
        query = query.where(Product.id == product_id)
    elif vendor_id is None:  # the operator's CLI: vendor/product, or a bare slug
        query = products.public_product_query(product_slug or "", [Product])
    else:
        query = query.where(Product.slug == product_slug)
    if vendor_id is not None:
        query = query.where(Product.vendor_id == vendor_id)
    product = db.session.scalars(query).one_or_none()
    if product is None:
        raise errors.NotFound("No such product.")
    jwks = vendors.public_keys(product.vendor_id)
    return ClientBuild(
        server_url=server_url,
        issuer=product.vendor.issuer,
        product=_identifier(product),
        product_name=product.name,
        keys={jwk["kid"]: jwk["x"] for jwk in jwks if jwk.get("use", "sig") == "sig"},
        release_keys=[
            jwk["public_key_b64"] for jwk in release_keys.public_jwks(product.vendor_id)
        ],
        dev_patterns=list(product.dev_patterns or []),
    )
