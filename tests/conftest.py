"""Test-wide settings: offline Hugging Face, and a guard that fails any test opening a socket."""

import os
import socket

import pytest

# Set before anything imports transformers / huggingface_hub: a missed hub call must fail at once
# instead of retrying for minutes.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_NETWORK_FAMILIES = {socket.AF_INET, socket.AF_INET6}


class NetworkAccessError(RuntimeError):
    """A test tried to open a network connection."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any TCP/UDP connection attempt from the test process raises NetworkAccessError."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(method):
        def guarded(self, address, *args, **kwargs):
            if self.family in _NETWORK_FAMILIES:
                raise NetworkAccessError(f"test tried to connect to {address!r}")
            return method(self, address, *args, **kwargs)

        return guarded

    def no_getaddrinfo(host, *args, **kwargs):
        raise NetworkAccessError(f"test tried to resolve {host!r}")

    monkeypatch.setattr(socket.socket, "connect", guard(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(real_connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", no_getaddrinfo)
    yield
