"""Progress of a fit: every stage named as it starts and ends, with its time.

With ``verbose`` off nothing is printed. With it on, each stage prints a line when it starts
and one with its duration when it ends; when tqdm is installed (``pip install
kansr[progress]``) a progress bar over the stages is shown as well (on stderr), and the
lines go through ``tqdm.write`` so that they do not break the bar.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

__all__ = ["StageLog"]


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the optional extra is not installed
        return None
    return tqdm


class StageLog:
    """Names the stages of one fit (``total`` of them) when ``verbose`` is positive."""

    def __init__(self, verbose: int, total: int, prefix: str = "kansr") -> None:
        self.verbose = int(verbose)
        self.prefix = prefix
        self.times: dict[str, float] = {}
        tqdm = _tqdm() if self.verbose else None
        self._bar = tqdm(total=total, desc=prefix, unit="stage", leave=False) if tqdm else None

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, flush=True)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Run the block as the stage ``name``: announced, timed, counted on the bar."""
        start = time.perf_counter()
        if self.verbose:
            if self._bar is not None:
                self._bar.set_description(f"{self.prefix}: {name}")
            self._print(f"{self.prefix}: {name} ...")
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.times[name] = self.times.get(name, 0.0) + elapsed
            if self.verbose:
                self._print(f"{self.prefix}: {name} done in {elapsed:.2f} s")
                if self._bar is not None:
                    self._bar.update(1)

    def close(self) -> None:
        """Remove the progress bar (if any)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
