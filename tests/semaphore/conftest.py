"""Fixtures for the Semaphore tests: a fresh fake server per test, and an SSH key file."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_semaphore import FakeSemaphore  # noqa: E402
from semaphore_support import SSH_KEY  # noqa: E402


@pytest.fixture
def fake():
    with FakeSemaphore() as f:
        yield f


@pytest.fixture
def ssh_key(tmp_path):
    p = tmp_path / "id_test"
    p.write_text(SSH_KEY)
    return p
