"""What Exchange (or exchangelib, before sending) refuses for one meeting rather than for the
mailbox: such a write is ``ItemRefused``, recorded against that meeting while the rest syncs
(any other error would keep the change pending and fail every pass of the connection)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from exchangelib import errors as ews

from sync_core.errors import ItemRefused

T = TypeVar("T")

REFUSALS = (
    ews.ErrorOccurrenceCrossingBoundary,
    ews.ErrorOccurrenceTimeSpanTooBig,
    ews.ErrorCalendarDurationIsTooLong,
    ews.ErrorCalendarEndDateIsEarlierThanStartDate,
    ews.ErrorCalendarInvalidAttributeValue,
    ews.ErrorCalendarInvalidTimeZone,
    ews.ErrorInvalidRecipients,
    ews.ErrorInvalidSmtpAddress,
    ews.ErrorInvalidPropertySet,
    ews.ErrorPropertyValidationFailure,
    ews.ErrorItemSave,
    ews.ErrorMessageSizeExceeded,
    ValueError,  # exchangelib's own checks (a subject over 255 characters, …)
    TypeError,
)
"""What Exchange (or exchangelib, before sending) refuses for one meeting, not the mailbox."""


def refusing(write: Callable[[], T]) -> T:
    try:
        return write()
    except REFUSALS as refused:
        raise ItemRefused(f"Exchange refused this meeting: {_why(refused)}") from refused


def _why(refused: Exception) -> str:
    """The refusal in words, without the refused value (a whole subject, a description)."""
    if isinstance(refused, ews.ResponseMessageError):
        return type(refused).__name__
    field, _, rest = str(refused).partition(" value ")
    if "exceeds length" in rest:
        return f"its {field.strip(chr(39))} is longer than {rest.rsplit(' ', 1)[-1]} characters"
    return "a value Exchange does not take"
