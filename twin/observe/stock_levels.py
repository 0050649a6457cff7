"""One item-location's stock as the ERP should hold it, for the KPI oracle: on-hand at a cycle count
and which issues left it below zero (the stock-outs the ERP records).

The ERP posts an issue some time after it was ready - at most the allowed lag (and any grace its
truth gives it) later - so issues ready close together may post in either order: after an ERP
outage, every issue ready while it was down is ready at the same instant and goes in the order the
integration's retries reach it. Which issue of such a race takes the shelf below zero is then not
the truth's to say; what it can say is whether an issue may have (some admissible posting order
leaves the shelf negative after it) and whether it must have (every order does).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True, slots=True)
class PostedIssue:
    """An issue as the oracle knows it: ready at ``ready``, posted by ``latest`` at the latest."""

    ready: float
    latest: float
    quantity: int


class _Index:
    """A shelf's issues by the moment each was ready and by the latest it may have posted."""

    def __init__(self, issues: list[PostedIssue]) -> None:
        self.count = len(issues)
        self.ready = [issue.ready for issue in issues]
        self.issued = [0, *accumulate(issue.quantity for issue in issues)]
        by_latest = sorted((issue.latest, issue.quantity) for issue in issues)
        self.latest = [at for at, _ in by_latest]
        self.issued_by_latest = [0, *accumulate(quantity for _, quantity in by_latest)]
        self.longest = max((issue.latest - issue.ready for issue in issues), default=0.0)


class Shelf:
    """One item-location as the ERP should hold it: opening stock, receipts (exact: staff post them
    as they count them in) and issues, in the order they were ready."""

    def __init__(self, opening: int, receipts: list[tuple[float, int]]) -> None:
        self.opening = opening
        self.receipt_times = [at for at, _ in receipts]
        self.received = [0, *accumulate(quantity for _, quantity in receipts)]
        self.issues: list[PostedIssue] = []
        self._indexed: _Index | None = None

    def issue(self, issue: PostedIssue) -> None:
        """One more issue, ready no earlier than the last one."""
        self.issues.append(issue)

    def zero_variance(self, at: float, physical: int) -> tuple[float, float]:
        """(low, high) of 'a count at ``at`` found no variance'. The ERP had posted every issue
        whose latest moment was before ``at``, none ready after it, and any of those in flight."""
        index = self._index()
        base = self.opening + self.received[bisect_left(self.receipt_times, at)]
        posted = index.issued_by_latest[bisect_left(index.latest, at)]
        possible = {0}  # what the issues in flight may have taken off the ERP's on-hand
        first = bisect_left(index.ready, at - index.longest)
        for issue in self.issues[first : bisect_left(index.ready, at)]:
            if at <= issue.latest:
                possible |= {taken + issue.quantity for taken in possible}
        if base - posted - physical not in possible:
            return 0.0, 0.0
        return (1.0, 1.0) if len(possible) == 1 else (0.0, 1.0)

    def _index(self) -> _Index:
        if self._indexed is None or self._indexed.count != len(self.issues):
            self._indexed = _Index(self.issues)
        return self._indexed

    def stock_outs(self) -> list[tuple[bool, bool]]:
        """Per issue, in order: (it may have left the shelf below zero, it
        must have). At its worst it posted after every issue ready before its latest moment and
        before any receipt counted in since it was ready; at its best after the receipts counted in
        by its latest moment and only the issues that must have posted before it was ready."""
        index = self._index()
        ready, latest, issued, issued_by_latest = index.ready, index.latest, index.issued, index.issued_by_latest
        verdicts = []
        for issue in self.issues:
            before = self.received[bisect_left(self.receipt_times, issue.ready)]
            worst = self.opening + before - issued[bisect_right(ready, issue.latest)]
            received = self.received[bisect_right(self.receipt_times, issue.latest)]
            best = self.opening + received - issued_by_latest[bisect_left(latest, issue.ready)] - issue.quantity
            verdicts.append((worst < 0, best < 0))
        return verdicts
