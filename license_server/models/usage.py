"""Validations per product, day and result code (the overview's daily chart by code).

Written by the same batched flush as :class:`~license_server.models.UsageCounter`
(:mod:`license_server.runtime.usage`), never per request.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from license_server.extensions import Base


class ValidationResultCounter(Base):
    """How many validations of a product answered each result code on a day."""

    __tablename__ = "validation_result_counters"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    validations: Mapped[int] = mapped_column(BigInteger, default=0)
