"""What a contact's attributes say about its IVR session: the answers and the intent.

The IVR step keeps a flow's answers in the contact's ``attributes["ivr"]``
(a mapping of field names to JSON values). Two readers need them: the CRM
history (which keeps them with each finished contact) and the screen pop
(:class:`~ccroute.OfferDelivery`), which shows them and the predicted intent
to the agent. This module is the one place that reads that convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["IVR_KEY", "ivr_answers", "predicted_intent"]

#: The contact attribute under which an IVR session records itself: its
#: answers, intent and path (docs/ivr-flows.md). The one definition: the flow
#: engine writes it, the CRM history and the screen pop read it.
IVR_KEY: Final = "ivr"


def ivr_answers(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """The IVR answers kept in ``attributes`` (empty when there are none, or
    when ``attributes["ivr"]`` is not a mapping). Cost: O(1)."""
    answers = attributes.get(IVR_KEY)
    return answers if isinstance(answers, Mapping) else {}


def predicted_intent(attributes: Mapping[str, Any]) -> str | None:
    """The intent the IVR predicted, or ``None``.

    Read from ``attributes["ivr"]["intent"]``: a string, or a mapping whose
    ``"name"`` is a string (``{"name": "billing", "confidence": 0.92}``).
    Cost: O(1).
    """
    intent = ivr_answers(attributes).get("intent")
    if isinstance(intent, Mapping):
        intent = intent.get("name")
    return intent if isinstance(intent, str) and intent else None
