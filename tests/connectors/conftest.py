"""Fixtures for the connector tests. Everything runs offline and in-process: no credentials, no network."""

from __future__ import annotations

import random

import pytest

from connectors.http import RetryPolicy
from tests.connectors.mock_api import Sleeps


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0, max_retry_after=60.0)
