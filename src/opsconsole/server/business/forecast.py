"""Cost forecasts from the daily cost history: a trend times day-of-week factors, with a range.

The model is small on purpose, so that its numbers can be explained to a manager:

* **Weekly rhythm.** Each weekday's factor is the mean ratio of that day's cost to the 7-day
  centred moving average around it (classical decomposition), normalised to a mean of 1.
* **Trend.** A straight line fitted by least squares to the last ``window`` days with the
  weekly rhythm divided out. Users joining month by month make cost grow about linearly.
* **Range.** A prediction interval for a total over several days: the day-to-day scatter of
  the fit (relative residuals, inflated when neighbouring days err the same way) plus the
  uncertainty of the fitted line itself; ``Z`` standard deviations either side (90%), widened
  by the backtest when the model's errors were larger than it assumed.

How good that is, is measured rather than claimed: :func:`backtest` forecasts every 7-day
stretch of the history from the days before it (rolling origin) and reports the mean absolute
percentage error of the daily figures and how often the 7-day total fell inside its range.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

# z of a two-sided 90% normal interval.
Z = 1.6448536269514722
COVERAGE = 0.90
WINDOW = 28  # days the trend is fitted on
MIN_DAYS = 3  # fewer days of history give no forecast at all
SEASONAL_DAYS = 14  # from two weeks on, the weekly rhythm is estimated
BACKTEST_HORIZON = 7
MIN_ORIGINS = 7  # backtests from fewer forecast origins say too little to report
MAX_SCALE = 3.0  # calibration never widens the range more than this
# Full days of history from which the backtest has MIN_ORIGINS origins.
MIN_BACKTEST_DAYS = max(SEASONAL_DAYS, WINDOW) + BACKTEST_HORIZON + MIN_ORIGINS - 1


@dataclass(frozen=True)
class Model:
    """A fitted forecast: cost on day ``t`` (days since ``origin``) = trend(t) * season."""

    origin: date  # day 0
    level: float  # trend at t_mean
    slope: float  # per day
    t_mean: float
    sxx: float  # sum of squared deviations of t over the fitted days
    n: int
    season: tuple[float, ...]  # by weekday, Monday first; mean 1
    sigma_rel: float  # std of the relative residuals (daily scatter)
    sigma_abs: float  # std of the deseasonalised residuals, in dollars (for the line's error)
    inflation: float  # variance factor for sums: >1 when errors of adjacent days correlate
    scale: float = 1.0  # widening of the range learnt from the backtest (calibration)

    def trend(self, day: date) -> float:
        t = (day - self.origin).days
        return self.level + self.slope * (t - self.t_mean)

    def predict(self, day: date) -> float:
        """Expected cost of ``day`` (never negative)."""
        return max(0.0, self.trend(day) * self.season[day.weekday()])

    def total(
        self, days: Sequence[date], weights: Sequence[float] | None = None
    ) -> tuple[float, float, float]:
        """Expected total over ``days`` and its 90% range (low, high).

        Args:
            weights: the share of each day's cost to count (a day's remaining hours); 1 each
                by default.
        """
        if not days:
            return 0.0, 0.0, 0.0
        shares = list(weights) if weights is not None else [1.0] * len(days)
        expected = sum(w * self.predict(day) for day, w in zip(days, shares, strict=True))
        noise = self.inflation * sum(
            (w * self.predict(day) * self.sigma_rel) ** 2
            for day, w in zip(days, shares, strict=True)
        )
        # The line's own error: level and slope are uncorrelated because t is centred.
        seasons = [w * self.season[day.weekday()] for day, w in zip(days, shares, strict=True)]
        offsets = [(day - self.origin).days - self.t_mean for day in days]
        level_var = (sum(seasons) * self.sigma_abs) ** 2 / self.n
        slope_var = 0.0
        if self.sxx > 0:
            lever = sum(s * o for s, o in zip(seasons, offsets, strict=True))
            slope_var = (lever * self.sigma_abs) ** 2 / self.sxx
        spread = self.scale * Z * math.sqrt(noise + level_var + slope_var)
        return expected, max(0.0, expected - spread), expected + spread


def fit(days: Sequence[date], costs: Sequence[float], *, window: int = WINDOW) -> Model | None:
    """Fit the model to consecutive days of cost (oldest first); None below MIN_DAYS days."""
    if len(days) != len(costs):
        raise ValueError("one cost per day")
    if len(days) < MIN_DAYS:
        return None
    season = _season(days, costs) if len(days) >= SEASONAL_DAYS else (1.0,) * 7
    recent_days, recent = list(days[-window:]), list(costs[-window:])
    origin = recent_days[0]
    ts = [(day - origin).days for day in recent_days]
    z = [cost / season[day.weekday()] for day, cost in zip(recent_days, recent, strict=True)]
    n = len(ts)
    t_mean = sum(ts) / n
    z_mean = sum(z) / n
    sxx = sum((t - t_mean) ** 2 for t in ts)
    slope = sum((t - t_mean) * (v - z_mean) for t, v in zip(ts, z, strict=True)) / sxx
    residuals = [v - (z_mean + slope * (t - t_mean)) for t, v in zip(ts, z, strict=True)]
    dof = max(1, n - 2)
    sigma_abs = math.sqrt(sum(r * r for r in residuals) / dof)
    relative = [
        r / fitted if (fitted := z_mean + slope * (t - t_mean)) > 0 else 0.0
        for t, r in zip(ts, residuals, strict=True)
    ]
    sigma_rel = math.sqrt(sum(r * r for r in relative) / dof)
    return Model(
        origin=origin,
        level=z_mean,
        slope=slope,
        t_mean=t_mean,
        sxx=sxx,
        n=n,
        season=season,
        sigma_rel=sigma_rel,
        sigma_abs=sigma_abs,
        inflation=_inflation(relative),
    )


def _season(days: Sequence[date], costs: Sequence[float]) -> tuple[float, ...]:
    """Weekday factors (Monday first, mean 1) from ratios to the centred 7-day average."""
    ratios: list[list[float]] = [[] for _ in range(7)]
    for i in range(3, len(costs) - 3):
        average = sum(costs[i - 3 : i + 4]) / 7
        if average > 0:
            ratios[days[i].weekday()].append(costs[i] / average)
    means = [sum(r) / len(r) if r else 1.0 for r in ratios]
    scale = sum(means) / 7
    return tuple(m / scale for m in means) if scale > 0 else (1.0,) * 7


def _inflation(residuals: Sequence[float]) -> float:
    """(1 + rho) / (1 - rho) for the lag-1 autocorrelation rho of the residuals, at least 1.

    A sum of n days whose errors follow each other varies more than n independent days.
    """
    if len(residuals) < 3:
        return 1.0
    numerator = sum(a * b for a, b in itertools.pairwise(residuals))
    denominator = sum(r * r for r in residuals)
    if denominator <= 0:
        return 1.0
    rho = min(0.8, max(0.0, numerator / denominator))
    return (1 + rho) / (1 - rho)


@dataclass(frozen=True)
class Backtest:
    """How the model did on the history itself, forecasting each week from the days before.

    Ranges are judged as they would have been given: each origin's range is calibrated only
    on the origins whose weeks had ended before it.
    """

    origins: int
    horizon_days: int
    mape_daily: float  # mean absolute percentage error of the daily costs, in percent
    mape_total: float  # the same for the horizon's total
    coverage: float  # share of horizon totals inside their 90% range
    scale: float  # the calibration for forecasts made now


def backtest(
    days: Sequence[date],
    costs: Sequence[float],
    *,
    horizon: int = BACKTEST_HORIZON,
    window: int = WINDOW,
    min_origins: int = MIN_ORIGINS,
) -> Backtest | None:
    """Rolling-origin backtest over the history; None when it is too short to say much.

    Each origin's forecast sees only the days before it, at most ``window`` of them for the
    trend and all of them for the weekly rhythm, as the live forecast does. The errors of the
    totals, in units of the model's own standard deviation, calibrate the range: if they
    scatter more than the model assumed (heavy users, budgets running out before the week
    ends), the range is widened by their root mean square.
    """
    first = max(SEASONAL_DAYS, window)
    origins = range(first, len(days) - horizon + 1)
    if len(origins) < min_origins:
        return None
    daily_errors: list[float] = []
    total_errors: list[float] = []
    standardized: list[float] = []  # by origin, in order
    inside = 0
    for origin in origins:
        model = fit(days[:origin], costs[:origin], window=window)
        assert model is not None  # origin >= SEASONAL_DAYS > MIN_DAYS
        ahead = list(days[origin : origin + horizon])
        actual = list(costs[origin : origin + horizon])
        for day, cost in zip(ahead, actual, strict=True):
            if cost > 0:
                daily_errors.append(abs(model.predict(day) - cost) / cost)
        expected, _, high = model.total(ahead)
        real = sum(actual)
        if real > 0:
            total_errors.append(abs(expected - real) / real)
        sd = (high - expected) / Z
        standardized.append((real - expected) / sd if sd > 0 else 0.0)
        # The range as it was given then: calibrated on the weeks that had ended by then.
        known = standardized[: max(0, len(standardized) - horizon)]
        spread = _calibration(known) * Z * sd
        inside += expected - spread <= real <= expected + spread
    return Backtest(
        origins=len(origins),
        horizon_days=horizon,
        mape_daily=100 * sum(daily_errors) / max(1, len(daily_errors)),
        mape_total=100 * sum(total_errors) / max(1, len(total_errors)),
        coverage=inside / len(origins),
        scale=_calibration(standardized),
    )


def _calibration(standardized: Sequence[float]) -> float:
    """Root mean square of standardised errors: 1 when the model's ranges were right."""
    if len(standardized) < MIN_ORIGINS:
        return 1.0
    rms = math.sqrt(sum(u * u for u in standardized) / len(standardized))
    return min(MAX_SCALE, max(1.0, rms))


def forecast(days: Sequence[date], costs: Sequence[float]) -> tuple[Model | None, Backtest | None]:
    """The model for forecasts from now on, calibrated by its backtest when there is one."""
    model = fit(days, costs)
    tested = backtest(days, costs)
    if model is not None and tested is not None:
        model = replace(model, scale=tested.scale)
    return model, tested


def day_range(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]
