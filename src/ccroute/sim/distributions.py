"""Random durations for the simulator: handle times, patience, answer delays.

Every draw comes from a :class:`random.Random` the simulation seeds, so the same
scenario and seed give the same run.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable

import attrs

from ..errors import InvalidValueError

__all__ = ["KINDS", "Distribution"]

#: The distribution kinds a scenario may name.
KINDS = ("exponential", "lognormal", "fixed", "empirical", "none")


@attrs.frozen(slots=True)
class Distribution:
    """A distribution of durations in seconds.

    - ``exponential``: mean ``mean``;
    - ``lognormal``: mean ``mean`` and standard deviation ``stdev`` of the
      duration itself (not of its logarithm);
    - ``fixed``: always ``mean``;
    - ``empirical``: a uniformly chosen value of ``values`` (measured data);
    - ``none``: never (infinite): a customer with no patience limit.
    """

    kind: str
    mean: float = 0.0
    stdev: float = 0.0
    values: tuple[float, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidValueError(
                f"unknown distribution {self.kind!r}, expected one of {', '.join(KINDS)}"
            )
        if self.kind in ("exponential", "lognormal") and not self.mean > 0:
            raise InvalidValueError(f"{self.kind} distribution needs mean > 0, got {self.mean!r}")
        if self.kind == "fixed" and not self.mean >= 0:
            raise InvalidValueError(f"fixed distribution needs mean >= 0, got {self.mean!r}")
        if self.kind == "lognormal" and not self.stdev > 0:
            raise InvalidValueError(f"lognormal distribution needs stdev > 0, got {self.stdev!r}")
        if self.kind == "empirical":
            if not self.values:
                raise InvalidValueError("empirical distribution needs a non-empty list of values")
            if any(not (v >= 0 and math.isfinite(v)) for v in self.values):
                raise InvalidValueError("empirical distribution values must be finite and >= 0")

    @property
    def expected(self) -> float:
        """The mean of the distribution (``inf`` for ``none``)."""
        if self.kind == "none":
            return math.inf
        if self.kind == "empirical":
            return sum(self.values) / len(self.values)
        return self.mean

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A function drawing from ``rng`` what :meth:`sample` would, draw for draw.

        For a simulator's hot path: the exponential's rate is worked out once,
        and ``none`` draws nothing.
        """
        if self.kind == "exponential":
            return functools.partial(rng.expovariate, 1.0 / self.mean)
        if self.kind == "none":
            return functools.partial(float, math.inf)
        return functools.partial(self.sample, rng)

    def sample(self, rng: random.Random) -> float:
        """Draw one duration."""
        kind = self.kind
        if kind == "exponential":
            return rng.expovariate(1.0 / self.mean)
        if kind == "fixed":
            return self.mean
        if kind == "lognormal":
            # Parameters of the underlying normal from the duration's mean and stdev.
            sigma2 = math.log1p((self.stdev / self.mean) ** 2)
            mu = math.log(self.mean) - sigma2 / 2
            return rng.lognormvariate(mu, math.sqrt(sigma2))
        if kind == "empirical":
            return self.values[rng.randrange(len(self.values))]
        return math.inf
