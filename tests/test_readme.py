"""The README's memory-map table is the one generated from dure/config.py."""

import pathlib

from dure.config import preset
from dure.memory_map import BEGIN, END, markdown_table

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_memory_map_matches_config():
    text = README.read_text()
    assert BEGIN in text and END in text, "README lost its memory-map markers"
    embedded = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert embedded == markdown_table(preset("sim")), \
        "README memory map is stale: paste the output of `dure memory-map` between the markers"
