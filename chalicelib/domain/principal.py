"""Who is calling: the one type the access rules, the audit log and the ports share. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling the API."""

    key_id: str
    owner: str
    role: str
