"""Certificates made at test time (``trustme``): a CA, server and client certificates as files."""

from __future__ import annotations

from pathlib import Path

import msgspec
import trustme


class TLSFiles(msgspec.Struct, frozen=True):
    """PEM files of one test PKI: the CA, a server certificate+key, a client cert and key."""

    ca: str
    server: str  # certificate chain and private key in one file (redis-server reads both)
    client_cert: str
    client_key: str


def write_ca(ca: trustme.CA, path: Path) -> str:
    """Write ``ca``'s certificate to ``path``; return the path as a string."""
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def write_pki(
    directory: Path,
    *,
    ca: trustme.CA | None = None,
    server_names: tuple[str, ...] = ("127.0.0.1", "localhost"),
    prefix: str = "",
) -> TLSFiles:
    """A CA (new unless given), a server certificate for ``server_names`` and a client cert."""
    ca = ca or trustme.CA()
    server = ca.issue_cert(*server_names)
    client = ca.issue_cert("cachekit-client")
    files = {name: directory / f"{prefix}{name}.pem" for name in ("ca", "server", "cert", "key")}
    write_ca(ca, files["ca"])
    server.private_key_and_cert_chain_pem.write_to_path(str(files["server"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    return TLSFiles(
        ca=str(files["ca"]),
        server=str(files["server"]),
        client_cert=str(files["cert"]),
        client_key=str(files["key"]),
    )
