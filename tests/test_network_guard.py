"""The test-wide network guard really blocks connections (see conftest.py)."""

import socket
import urllib.request

import pytest


def test_tcp_connect_is_blocked():
    with pytest.raises(RuntimeError, match="tried to"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_http_is_blocked():
    with pytest.raises(Exception, match="tried to"):
        urllib.request.urlopen("http://example.com", timeout=1)


def test_local_unix_sockets_still_work():
    a, b = socket.socketpair()
    a.sendall(b"ok")
    assert b.recv(2) == b"ok"
    a.close()
    b.close()
