"""The test harness's listening ports (``chaos.configs.free_port``): below the kernel's
ephemeral range, bindable, and never handed out twice by one process."""

from __future__ import annotations

import socket

import pytest

from chaos import configs


def test_ports_are_unique_below_the_ephemeral_range_and_bindable():
    low, high = configs._LISTEN_PORTS
    ports = [configs.free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
    assert all(low <= p < high for p in ports)
    with socket.socket() as s:
        s.bind((configs.HOST, ports[-1]))


def test_a_port_in_use_is_never_handed_out(monkeypatch):
    with socket.socket() as busy:
        busy.bind((configs.HOST, 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setattr(configs, "_LISTEN_PORTS", (taken, taken + 1))  # only that one
        monkeypatch.setattr(configs, "_given", set())
        with pytest.raises(RuntimeError, match="no free port"):
            configs.free_port()


def test_the_range_follows_the_kernel_setting(tmp_path):
    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("32768\t60999\n")
    assert configs._listen_ports(str(ranges)) == (10_000, 32768)
    ranges.write_text("49152 65535\n")
    assert configs._listen_ports(str(ranges)) == (10_000, 49152)
    assert configs._listen_ports(str(tmp_path / "missing")) == (10_000, 32768)
