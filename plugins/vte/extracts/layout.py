"""How much room a cell's text takes: display width (a CJK character is two columns wide), wrapped lines.

Excel measures a column in characters of the default font's digit. A Chinese character is about twice as wide
as a digit, so widths count East Asian wide and full-width characters as two. The workbook sizes its columns
and rows with these functions, and the tests check every cell against them.
"""

from __future__ import annotations

import math
import re
import unicodedata

# Column width in Excel units for a text of display width w: a little more than w (Latin letters are narrower
# than digits, CJK glyphs slightly wider than two), plus the cell's padding.
WIDTH_FACTOR = 1.15
PADDING = 2.0
LINE_HEIGHT = 15.0  # points, one line of the 11-point default font
_TOKENS = re.compile(r"\s+|[^\s]")


def char_width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def column_width(text_width: float) -> float:
    """The column width (Excel units) that shows a text of display width ``text_width`` on one line."""
    return round(text_width * WIDTH_FACTOR + PADDING, 1)


def text_room(width: float) -> float:
    """The display width that fits in a column of ``width`` Excel units (the inverse of ``column_width``)."""
    return (width - PADDING) / WIDTH_FACTOR


def _words(text: str) -> list[str]:
    """Break opportunities: every CJK character on its own, runs of other characters between spaces."""
    words: list[str] = []
    for token in _TOKENS.findall(text):
        if token.isspace():
            words.append(" ")
        elif char_width(token) == 2 or not words or words[-1] == " " or char_width(words[-1][-1]) == 2:
            words.append(token)
        else:
            words[-1] += token
    return words


def wrapped_lines(text: str, width: float) -> int:
    """Lines the text takes in a wrapping cell ``width`` Excel units wide (greedy, breaking at spaces and
    between CJK characters; a word longer than the line is broken)."""
    room = max(text_room(width), 1.0)
    count = 0
    for paragraph in text.split("\n"):
        count += 1
        used = 0.0
        for word in _words(paragraph):
            size = display_width(word)
            if word == " ":
                used += size if used else 0
                continue
            if used + size > room and used:
                count += 1
                used = 0.0
            if size > room:
                count += math.ceil(size / room) - 1
                used = size % room
            else:
                used += size
    return count


def longest_word(text: str) -> int:
    return max((display_width(w) for w in _words(text) if w != " "), default=0)
