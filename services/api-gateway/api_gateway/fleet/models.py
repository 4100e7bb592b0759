"""Projects, device groups, devices and join requests: the API's requests and answers.

Validation that needs no database lives here, as in api_gateway.models. Project and group ids
become routing-key words, so they are checked by iot_routing's own rule (which also reserves
'all' for the fan-in queues).
"""

from __future__ import annotations

import enum
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from iot_routing import validate_slug
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

# The shape iot_routing.validate_slug accepts ('all' aside), for the JSON schema and paths.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
DEVICE_ID_PATTERN = r"^dev-[a-z0-9]{16}$"
MAX_NAME_LENGTH = 200
MAX_COMMENTS_LENGTH = 2000
# Metadata travels in every device's JOIN: keep it a note, not a payload.
MAX_SESSION_METADATA_BYTES = 16_384
MAX_DEADLINE_TEXT = 64
DEFAULT_DEADLINE = "60s"
MAX_JOIN_REQUEST_PAGE = 1000
DEFAULT_JOIN_REQUEST_PAGE = 20


def _project_id(value: str) -> str:
    return validate_slug("project", value)


def _group_name(value: str) -> str:
    return validate_slug("group", value)


def _printable(value: str) -> str:
    """Names end up in tables, logs and JOIN messages: no control characters, not blank."""
    if not value.strip():
        raise ValueError("must not be blank")
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValueError("must not contain control characters")
    return value


ProjectId = Annotated[
    str,
    Field(pattern=SLUG_PATTERN, examples=["studio-a"]),
    AfterValidator(_project_id),
]
GroupName = Annotated[
    str,
    Field(pattern=SLUG_PATTERN, examples=["cameras"]),
    AfterValidator(_group_name),
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_LENGTH, examples=["Camera 1"]),
    AfterValidator(_printable),
]


def _text(value: str) -> str:
    """Free text may span lines, but holds no other control character (PostgreSQL refuses NUL)."""
    if any(
        (ord(character) < 32 and character not in "\t\n\r") or ord(character) == 127
        for character in value
    ):
        raise ValueError("must not contain control characters other than tabs and line breaks")
    return value


Comments = Annotated[str, Field(max_length=MAX_COMMENTS_LENGTH), AfterValidator(_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectCreate(_Model):
    id: ProjectId = Field(description="lower-case letters, digits and '-'; part of routing keys")
    name: Name


class Project(_Model):
    id: str
    name: str
    created_at: datetime


class ProjectSummary(Project):
    groups: int
    devices: int = Field(description="devices not revoked")


class ProjectList(_Model):
    projects: list[ProjectSummary]


class GroupCreate(_Model):
    name: GroupName
    comments: Comments = ""


class Group(_Model):
    project: str
    name: str
    comments: str
    created_at: datetime
    devices: int = Field(description="devices not revoked")
    online: int = Field(description="devices not revoked that answered recently")


class GroupList(_Model):
    groups: list[Group]


class ProjectDetail(Project):
    groups: list[Group]


class DeviceCreate(_Model):
    name: Name = Field(description="unique in the project")
    group: GroupName
    comments: Comments = ""


class Device(_Model):
    id: str = Field(description="also the device's broker user name")
    project: str
    group: str
    name: str
    comments: str
    registered_at: datetime
    credential_rotated_at: datetime | None
    revoked_at: datetime | None
    last_seen_at: datetime | None = Field(description="the device's latest pong or join answer")
    online: bool = Field(description="not revoked and seen within the offline window")


class BrokerCredential(_Model):
    username: str = Field(description="the device id")
    password: str = Field(description="shown only in this answer; only its hash is stored")
    vhost: str


class DeviceRegistered(Device):
    credential: BrokerCredential


class DeviceList(_Model):
    devices: list[Device]


class JoinRequestCreate(_Model):
    project: ProjectId
    group: GroupName
    session_id: Name
    session_name: Name = Field(description="the LiveKit room the devices join")
    session_metadata: dict[str, Any] = Field(
        default_factory=dict, description="a JSON object, passed to the devices unchanged"
    )
    deadline: str = Field(
        DEFAULT_DEADLINE,
        max_length=MAX_DEADLINE_TEXT,
        description="an RFC 3339 time, or a duration from now (60s, 5m, 2h)",
        examples=["5m", "2026-11-23T10:00:00Z"],
    )

    @field_validator("session_metadata")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        # What jsonb refuses must be a 422 here, not a database error later.
        if _holds_nul(value):
            raise ValueError("must not contain the character U+0000")
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise ValueError("must not contain NaN or Infinity") from None
        if len(metadata_json(value).encode()) > MAX_SESSION_METADATA_BYTES:
            raise ValueError(f"at most {MAX_SESSION_METADATA_BYTES} bytes as JSON")
        return value


def _holds_nul(value: object) -> bool:
    """Whether a JSON value has U+0000 in any string or key."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def metadata_json(metadata: dict[str, Any]) -> str:
    """The one JSON spelling of session metadata, stored and sent to the devices alike."""
    return json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)


class JoinAccepted(_Model):
    join_request_id: uuid.UUID
    deadline: datetime


class JoinRequestState(enum.StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    CLOSED = "closed"
    FAILED = "failed"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    JOINED = "joined"
    FAILED = "failed"
    EXPIRED = "expired"


class JoinCounts(_Model):
    """Each targeted device once, in its current status: the others sum to `targeted`."""

    targeted: int
    pending: int
    delivered: int
    joined: int
    failed: int
    expired: int


class JoinDelivery(_Model):
    device_id: str
    name: str
    status: DeliveryState
    reason: str | None
    published_at: datetime | None
    delivered_at: datetime | None
    answered_at: datetime | None = Field(description="the device's time of its outcome")


class JoinRequestSummary(_Model):
    join_request_id: uuid.UUID
    project: str
    group: str
    session_id: str
    session_name: str
    session_metadata: dict[str, Any]
    status: JoinRequestState
    reason: str | None = Field(description="why the request failed; null otherwise")
    requested_by: str
    requested_at: datetime
    deadline: datetime
    dispatched_at: datetime | None
    closed_at: datetime | None
    counts: JoinCounts


class JoinRequestStatus(JoinRequestSummary):
    devices: list[JoinDelivery]


class JoinRequestList(_Model):
    join_requests: list[JoinRequestSummary]
