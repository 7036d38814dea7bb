"""The compiled program (compiler/program.py): :meth:`Program.save` writes the layer table
``layers.bin`` that ``program.json`` indexes (its ``record`` fields), aliases without one."""

from dure.compiler import program as pg


def test_save_writes_the_table(cnn_program, tmp_path):
    import json
    folder = cnn_program.save(tmp_path / "prog")
    meta = json.loads((folder / "program.json").read_text())
    head, recs = pg.unpack_layer_table((folder / "layers.bin").read_bytes())
    rows = [row for row in meta["layers"] if row["record"] is not None]
    assert len(recs) == len(rows) and head[5] == meta["results"]
    assert [row["record"] for row in rows] == list(range(len(recs)))
    assert [row["kind"] for row in meta["layers"] if row["record"] is None] == ["alias"]



def test_table_names_stay_importable_from_program():
    """The layer table's names (now in layer_table.py / core_record.py) are the same objects
    under dure.compiler.program, where the firmware tests and older callers import them."""
    from dure.compiler import core_record, layer_table

    for name in pg.__all__:
        if name in ("Layer", "Program"):
            continue
        home = core_record if name == "core_record" else layer_table
        assert getattr(pg, name) is getattr(home, name), name
