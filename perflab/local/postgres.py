"""A real PostgreSQL server for the local cloud's RDS. (Being built.)"""

from __future__ import annotations

from pathlib import Path


class LocalPostgres:
    def __init__(self, data_dir: Path, max_connections: int = 300) -> None:
        self.data_dir = data_dir
        self.max_connections = max_connections

    def start(self) -> str:
        raise NotImplementedError("local PostgreSQL is not built yet")

    def stop(self) -> None:
        pass
