"""Launchers for the real local services Winnow talks to: SeaweedFS (S3), Label Studio and
PostgreSQL (Label Studio's production database).

Used by the integration tests and by the demo; each launcher binds loopback only, picks free
ports, logs to its own file and stops its whole process group.
"""

from winnow.errors import ServiceError
from winnow.services.label_studio import LabelStudio
from winnow.services.postgres import PostgreSQL
from winnow.services.process import free_port, free_ports
from winnow.services.seaweedfs import SeaweedFS

__all__ = ["LabelStudio", "PostgreSQL", "SeaweedFS", "ServiceError", "free_port", "free_ports"]
