"""The second pass returns the right text for lines around batch boundaries."""

from __future__ import annotations

from cimedic.analysis.diagnosis import Diagnoser, batches_from_bytes
from cimedic.model import LogFormat


def test_excerpt_text_is_right_across_batch_boundaries() -> None:
    lines = [f"step output line {i}" for i in range(1, 60)]
    lines += [
        "Traceback (most recent call last):",
        '  File "app.py", line 3, in <module>',
        "    main()",
        "ValueError: bad config value 42",
    ]
    lines += [f"cleanup line {i}" for i in range(1, 10)]
    data = ("\n".join(lines) + "\n").encode()
    diagnoser = Diagnoser()
    for size in (64, 80, 100, 150, 1 << 20):  # many batch cuts (all longer than a line)
        d = diagnoser.diagnose(lambda s=size: batches_from_bytes(data, s), LogFormat.PLAIN, "x.log")
        assert d.excerpt is not None
        assert d.excerpt_lines, size
        for n, text in d.excerpt_lines:
            assert text == lines[n - 1], (size, n, text)
        assert any(e.text == "ValueError: bad config value 42" for e in d.error_lines)
