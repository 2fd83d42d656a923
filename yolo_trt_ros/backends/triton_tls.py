# Copyright 2026 yolo_trt_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
TLS for the Triton backend's gRPC channel: which certificate files, checked before connecting.

A ``grpcs://host:port`` URL is gRPC over TLS (the server started with ``--grpc-use-ssl``, or
``--grpc-use-ssl-mutual`` when it asks clients for a certificate). Three PEM files may go
with it:

- ``root_cert``: the CA that signed the server's certificate (empty: gRPC's own bundle of
  public roots, for a server with a publicly signed certificate);
- ``client_cert`` and ``client_key``: this client's certificate chain and private key, for a
  server that checks clients (mutual TLS); both or neither.

The files are read here, at start: a missing, unreadable or non-PEM file, a client certificate
without its key, or TLS files with a URL that is not ``grpcs://`` is a TlsConfigError naming the
option, so the node stops with exit code 2 instead of failing on its first frame. Triton's HTTP
endpoint has no TLS option, so there is no ``https://`` (see split_url in triton.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from yolo_trt_ros.backends.base import ModelLoadError

TLS_SCHEME = 'grpcs'


class TlsConfigError(ModelLoadError):
    """A TLS option of the Triton backend is unusable (``option`` names it, without triton_)."""

    def __init__(self, option: str, value: str, expected: str) -> None:
        super().__init__(f"Triton TLS option {option} = '{value}': expected {expected}")
        self.option = option
        self.value = value
        self.expected = expected


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of a TLS channel (paths, '' when not given)."""

    root_cert: str = ''
    client_cert: str = ''
    client_key: str = ''

    @property
    def mutual(self) -> bool:
        """Return True when this client presents a certificate."""
        return bool(self.client_cert)

    def client_arguments(self) -> dict:
        """Return the TLS keyword arguments of tritonclient.grpc.InferenceServerClient."""
        return {
            'ssl': True,
            'root_certificates': self.root_cert or None,
            'private_key': self.client_key or None,
            'certificate_chain': self.client_cert or None,
        }


def _check_pem(option: str, path: str, marker: str, what: str) -> None:
    try:
        with open(path, 'rb') as f:
            text = f.read()
    except OSError as exc:
        raise TlsConfigError(
            option, path, f'a readable PEM file with {what} ({exc.strerror or exc})'
        ) from None
    if b'-----BEGIN ' not in text or marker.encode() not in text:
        raise TlsConfigError(option, path, f"a PEM file with {what} (no '{marker}' block in it)")


def check_tls(
    scheme: str,
    root_cert: str = '',
    client_cert: str = '',
    client_key: str = '',
    read_files: bool = True,
) -> Optional[TlsFiles]:
    """
    Return the TLS files for a ``grpcs`` URL (None for the other schemes), or raise.

    Raises TlsConfigError for TLS files with another scheme, half a client identity, or (with
    ``read_files``) a file that is missing, unreadable or holds no PEM block of the right kind.
    """
    given = {
        'root_cert': str(root_cert or '').strip(),
        'client_cert': str(client_cert or '').strip(),
        'client_key': str(client_key or '').strip(),
    }
    if scheme != TLS_SCHEME:
        for option, path in given.items():
            if path:
                raise TlsConfigError(
                    option,
                    path,
                    f'empty, or a grpcs://host:port URL (TLS files are used only by gRPC over '
                    f"TLS; the URL's scheme is {scheme}://)",
                )
        return None
    if bool(given['client_cert']) != bool(given['client_key']):
        option = 'client_key' if given['client_cert'] else 'client_cert'
        raise TlsConfigError(
            option,
            given[option],
            'a file when the other one of client_cert and client_key is given (mutual TLS '
            'needs both the certificate and its private key)',
        )
    if not read_files:
        return TlsFiles(**given)
    if given['root_cert']:
        _check_pem('root_cert', given['root_cert'], 'CERTIFICATE', "the server's CA certificate")
    if given['client_cert']:
        _check_pem('client_cert', given['client_cert'], 'CERTIFICATE', "this client's certificate")
        _check_pem('client_key', given['client_key'], 'PRIVATE KEY', "this client's private key")
    return TlsFiles(**given)


def handshake_hint(tls: Optional[TlsFiles], problem: str) -> str:
    """Return what to check when a connection failed in a way that points at TLS ('' if not)."""
    if tls is None:
        # a TLS server closes a plain connection right after accepting it
        closed = 'socket closed' in problem.lower()
        return '; if the server uses TLS (--grpc-use-ssl), use a grpcs:// URL' if closed else ''
    words = ('ssl', 'tls', 'handshake', 'certificate', 'socket closed')
    if not any(w in problem.lower() for w in words):
        return ''
    root = f"triton_root_cert '{tls.root_cert}'" if tls.root_cert else "gRPC's public roots"
    who = 'with' if tls.mutual else 'without'
    return (
        f'; over TLS ({root}, {who} a client certificate) a failed handshake looks like this: '
        "check that the server's certificate is signed by that CA and names this host, that "
        'the server runs with --grpc-use-ssl, and, if it asks for client certificates '
        '(--grpc-use-ssl-mutual), set triton_client_cert and triton_client_key'
    )


__all__ = ['TLS_SCHEME', 'TlsConfigError', 'TlsFiles', 'check_tls', 'handshake_hint']
