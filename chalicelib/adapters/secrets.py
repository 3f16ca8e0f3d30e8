"""Store credentials from Secrets Manager, cached briefly (Powertools parameters)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider

SECRET_CACHE_SECONDS = 60


class SecretsManagerSource:
    def __init__(self, provider: SecretsProvider, max_age: int = SECRET_CACHE_SECONDS) -> None:
        self._provider = provider
        self._max_age = max_age

    def get_secret(self, name: str) -> Mapping[str, Any]:
        value = self._provider.get(name, max_age=self._max_age, transform="json")
        if not isinstance(value, dict):
            raise ValueError(f"secret {name} is not a JSON object")
        return value


class SecretsManagerStore:
    """Reads and writes a secret's JSON directly (no cache): for rotation, an operator's act."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def read(self, name: str) -> dict[str, Any]:
        value = json.loads(self._client.get_secret_value(SecretId=name)["SecretString"])
        if not isinstance(value, dict):
            raise ValueError(f"secret {name} is not a JSON object")
        return value

    def changed_at(self, name: str) -> datetime | None:
        """When Secrets Manager last changed the secret (its age for one written without a
        `secret_set_at` stamp); None when it does not say."""
        found = self._client.describe_secret(SecretId=name)
        moment = found.get("LastChangedDate") or found.get("CreatedDate")
        return moment if isinstance(moment, datetime) else None

    def write(self, name: str, value: Mapping[str, Any]) -> None:
        self._client.put_secret_value(SecretId=name, SecretString=json.dumps(dict(value)))
