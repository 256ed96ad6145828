"""The base class of every configuration section (kept apart so stage settings can import it)."""

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """A configuration section: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)
