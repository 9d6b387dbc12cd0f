"""Intent prediction: what a caller's words are about.

A menu node can route by predicted intent ("I want to pay my bill" →
``billing``) when the prediction's confidence reaches the node's
threshold. The prediction comes from the ``ccroute_predict_intent`` hook
when a plugin implements it (a language model, a cloud NLU service), and
from :class:`KeywordIntentMatcher` otherwise: the regular expressions a
flow lists per intent under ``[intents]``.

A session is sans-I/O: it takes a plain callable (:data:`IntentPredictor`)
and, for predictions made elsewhere (the hook, which may be async), an
``intent=`` argument to :meth:`FlowSession.input <ccroute.ivr.FlowSession.input>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import attrs

__all__ = ["IntentPrediction", "IntentPredictor", "KeywordIntentMatcher"]


def _confidence(value: float) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)) or not (
        0.0 <= value <= 1.0
    ):
        from ..errors import InvalidValueError

        raise InvalidValueError(f"intent confidence must be a number in 0..1, got {value!r}")
    return float(value)


@attrs.frozen(slots=True)
class IntentPrediction:
    """A predicted intent and how sure the predictor is of it.

    :param intent: the intent's name (one of the names the menu offered).
    :param confidence: 0..1; a menu takes the intent only at or above its
        ``threshold``.
    """

    intent: str
    confidence: float = attrs.field(default=1.0, converter=_confidence)


#: Predicts the intent of ``text`` among ``intents`` (the names a menu offers);
#: ``None`` when it has no idea. Must not do I/O (a session calls it inline).
IntentPredictor = Callable[[str, Sequence[str]], IntentPrediction | None]


@attrs.frozen(slots=True)
class KeywordIntentMatcher:
    """The default predictor: regular expressions per intent, matched case-insensitively.

    Each intent scores the number of its patterns found in the text
    (``re.search``); the intent with the highest score wins (ties: the one
    declared first), with confidence ``its score / the sum of all scores``.
    So one intent matched alone is certain (1.0), two matched equally are a
    coin toss (0.5, below a typical threshold), and nothing matched is
    ``None``. Only the intents the menu offers compete. Cost:
    O(patterns * text length).

    :param patterns: intent name to its regular expressions.
    """

    patterns: Mapping[str, tuple[str, ...]]
    _compiled: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = attrs.field(
        init=False, repr=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        compiled = tuple(
            (name, tuple(re.compile(p, re.IGNORECASE) for p in found))
            for name, found in self.patterns.items()
        )
        object.__setattr__(self, "_compiled", compiled)

    def __call__(self, text: str, intents: Sequence[str]) -> IntentPrediction | None:
        """The best-scoring intent among ``intents`` for ``text``, or ``None``."""
        wanted = set(intents)
        best: tuple[str, int] | None = None
        total = 0
        for name, patterns in self._compiled:
            if name not in wanted:
                continue
            score = sum(1 for pattern in patterns if pattern.search(text))
            total += score
            if score and (best is None or score > best[1]):
                best = (name, score)
        if best is None:
            return None
        return IntentPrediction(best[0], best[1] / total)
