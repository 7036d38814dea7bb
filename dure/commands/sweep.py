"""``dure sweep``: a design-space grid, each point an independent task on Dask distributed.

Grid: a TOML file (axes in a ``[grid]`` table, optional ``[sweep]`` table with ``engine`` and
``base``) or ``--grid "rows=4,8;cols=8;workload=gemm64"``; the axes and engines are those of
:mod:`dure.sim.sweep` (``--engine`` default: the grid file's, else ``rtl``; the tests use
``cost``). Scheduler: a ``LocalCluster`` of ``--workers`` processes (one thread
each) by default, or ``--scheduler tcp://HOST:8786`` for a running cluster (the workers must see
the same out and build folders: one machine, or a shared file system).

Outputs in ``--out`` (default ``build/sweep``):

- ``points/<key>.json``: one finished point, ``key`` the SHA-256 of the point, the engine, the
  base preset and the code version (:func:`code_version`: a hash of the package's sources). A
  point whose file exists is never run again, so a rerun after an interruption (or a killed
  worker, or a bigger grid) runs only the rest. Files are written atomically (temporary file,
  rename), so a killed task leaves no half-written point.
- ``sweep.csv``: one row per grid point, in grid order, columns :data:`COLUMNS` (rewritten
  whole at the end of each run from the point files: never a duplicate row).
- ``utilization.png`` (util % per point), ``scaling.png`` (MACs/cycle against tiles, when the
  grid has more than one tiles value) and ``resources.png`` (MACs/cycle against the LUTs of the
  array, when ``build/sweep_synth.csv`` holds synthesis figures: columns rows, cols, luts).

Verilator models (``--engine rtl``) are built by :mod:`dure.sim.verilator_build` in the build
folder of the client (passed to the tasks as ``$DURE_BUILD``): one model per configuration hash,
built once under a file lock however many workers ask for it.
"""

import csv
import hashlib
import json
import os
import pathlib
import sys
import time
import tomllib

from ..errors import UserError

NAME = "sweep"
HELP = ("design-space sweep (array, tiles, precision, memory, bandwidth, workload) as Dask "
        "tasks on a local cluster or --scheduler; cached, resumable; CSV and plots")

#: Test hook: seconds each task sleeps before it runs (makes a cheap point last long enough to
#: kill a worker in the middle of a sweep). Read on the worker.
DELAY_ENV = "DURE_SWEEP_TEST_DELAY"


def add_arguments(parser):
    parser.add_argument("grid_file", nargs="?", type=pathlib.Path, metavar="GRID.toml",
                        help="grid file ([grid] axes, optional [sweep] engine / base)")
    parser.add_argument("--grid", metavar="SPEC",
                        help='grid on the command line: "rows=4,8;workload=gemm64,kws_fc"')
    parser.add_argument("--engine", help="rtl (simulated SoC, bit-exact check) or cost "
                        "(analytic estimate, milliseconds); default: the grid file's, else rtl")
    parser.add_argument("--base", help="preset the points change (default: sim)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler to use (tcp://HOST:8786); default: a LocalCluster")
    parser.add_argument("--workers", type=int, default=2,
                        help="LocalCluster worker processes (default: 2)")
    parser.add_argument("--out", type=pathlib.Path, metavar="DIR",
                        help="output folder (default: build/sweep)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG")


def _value(text):
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text


def parse_grid_spec(spec):
    """``"rows=4,8;workload=gemm64"`` as a grid dict (integers where they parse)."""
    grid = {}
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--grid: {item!r} is not KEY=V1,V2,...")
        grid[key.strip()] = [_value(v) for v in values.split(",") if v.strip()]
    return grid


def load_grid_file(path):
    """``(grid, settings)`` of a TOML grid file; a clear :class:`UserError` otherwise."""
    try:
        data = tomllib.loads(pathlib.Path(path).read_text())
    except OSError as error:
        raise UserError(f"cannot read grid file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"grid file {path}: not valid TOML: {error}") from None
    for key in data:
        if key not in ("grid", "sweep"):
            raise UserError(f"grid file {path}: unknown key {key!r} (expected tables [grid] "
                            "and [sweep])")
    settings = data.get("sweep", {})
    for key in settings:
        if key not in ("engine", "base"):
            raise UserError(f"grid file {path}: unknown key 'sweep.{key}' (expected engine, "
                            "base)")
    if "grid" not in data:
        raise UserError(f"grid file {path}: no [grid] table")
    return data["grid"], settings


def code_version():
    """SHA-256 of every Python / C++ source of the installed ``dure`` packages (any change of
    the code gives new point keys, so stale results are never reused)."""
    import dure
    digest = hashlib.sha256()
    roots = sorted({pathlib.Path(p).resolve() for p in
                    [*dure.__path__, *_subpackage_roots()]})
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".cpp", ".h") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _subpackage_roots():
    import importlib
    for name in ("rtl", "sim", "fpga", "compiler"):
        yield from importlib.import_module(f"dure.{name}").__path__


def point_key(point, engine, base, version):
    """The cache key of a point (hex SHA-256)."""
    text = json.dumps({"point": point, "engine": engine, "base": base, "code": version},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _write_atomic(path, text):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_task(point, engine, base, cache_path, build_dir):
    """One Dask task: measure ``point`` unless ``cache_path`` exists, write it atomically and
    return its record (``row`` plus who computed it)."""
    import socket

    from ..sim.sweep import run_point
    cache_path = pathlib.Path(cache_path)
    if cache_path.exists():
        return json.loads(cache_path.read_text())
    os.environ["DURE_BUILD"] = build_dir
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    if delay:
        time.sleep(delay)
    start = time.time()
    row = run_point(point, engine, base)
    record = {"row": row, "pid": os.getpid(), "host": socket.gethostname(),
              "seconds": round(time.time() - start, 3)}
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(cache_path, json.dumps(record, sort_keys=True))
    return record


def _progress(done, total, width=30):
    filled = width * done // max(total, 1)
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="",
          file=sys.stderr, flush=True)


def sweep(grid, *, engine="cost", base="sim", out, scheduler=None, workers=2, plots=True):
    """Run ``grid`` (see :mod:`dure.sim.sweep`); returns ``{"rows", "cached", "computed",
    "csv"}``. Raises :class:`UserError` for a bad grid or engine."""
    from distributed import Client, LocalCluster, as_completed

    from ..sim.sweep import COLUMNS, ENGINES, GridError, points
    from ..sim.verilator_build import build_root
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    try:
        grid_points = points(grid)
    except GridError as error:
        raise UserError(str(error)) from None
    out = pathlib.Path(out)
    cache = out / "points"
    cache.mkdir(parents=True, exist_ok=True)
    version = code_version()
    keys = [point_key(p, engine, base, version) for p in grid_points]
    todo = {}
    for point, key in zip(grid_points, keys, strict=True):
        if not (cache / f"{key}.json").exists():
            todo.setdefault(key, point)
    total = len(set(keys))
    cached = total - len(todo)
    print(f"sweep: {total} points, {cached} cached, {len(todo)} to run ({engine} engine)",
          file=sys.stderr, flush=True)
    if todo:
        cluster = None
        if scheduler:
            client = Client(scheduler, timeout="20s")
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0")
            client = Client(cluster)
        try:
            build = str(build_root())
            futures = [client.submit(run_task, point, engine, base, str(cache / f"{key}.json"),
                                     build, key=f"sweep-point-{key}", pure=False, retries=2)
                       for key, point in todo.items()]
            done = cached
            _progress(done, total)
            for future in as_completed(futures):
                record = future.result()
                path = cache / f"{future.key.removeprefix('sweep-point-')}.json"
                if not path.exists():        # the worker's folder is not ours: keep it here
                    _write_atomic(path, json.dumps(record, sort_keys=True))
                done += 1
                _progress(done, total)
            print(file=sys.stderr)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    rows, seen = [], set()
    for key in keys:
        if key in seen:
            continue
        seen.add(key)
        rows.append(json.loads((cache / f"{key}.json").read_text())["row"])
    csv_path = out / "sweep.csv"
    tmp = csv_path.with_name(".sweep.csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, csv_path)
    if plots:
        write_plots(rows, out)
    return {"rows": rows, "cached": cached, "computed": len(todo), "csv": csv_path}


def _bandwidth(row):
    """`` scaled`` for a point whose tiles have a main-memory port each, else empty."""
    return " scaled" if row.get("main_bandwidth") == "scaled" else ""


def _label(row):
    return (f"{row['rows']}x{row['cols']} t{row['tiles']} {row['precision']} "
            f"{row['bytes_per_cycle']}B/{row['latency']}{_bandwidth(row)} {row['workload']}")


def write_plots(rows, out):
    """The PNGs of the module docstring; returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = pathlib.Path(out)
    good = [r for r in rows if not r["error"]]
    written = []
    if good:
        fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(good)), 4.5))
        ax.bar(range(len(good)), [r["util_pct"] for r in good])
        ax.set_xticks(range(len(good)), [_label(r) for r in good], rotation=90, fontsize=6)
        ax.set_ylabel("utilization %")
        ax.set_title("NPU utilization per point")
        fig.tight_layout()
        fig.savefig(out / "utilization.png", dpi=120)
        plt.close(fig)
        written.append(out / "utilization.png")
    if len({r["tiles"] for r in good}) > 1:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        series = {}
        for r in good:
            name = (f"{r['rows']}x{r['cols']} {r['precision']} {r['bytes_per_cycle']}B/"
                    f"{r['latency']}{_bandwidth(r)} {r['workload']}")
            series.setdefault(name, []).append((r["tiles"], r["macs_per_cycle"]))
        for name, pts in series.items():
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        ax.set_xticks(sorted({r["tiles"] for r in good}))
        ax.set_xlabel("tiles")
        ax.set_ylabel("MACs / cycle")
        ax.set_title("scaling over tiles")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out / "scaling.png", dpi=120)
        plt.close(fig)
        written.append(out / "scaling.png")
    synth = _synthesis()
    if synth and good:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for r in good:
            luts = synth.get((r["rows"], r["cols"]))
            if luts is not None:
                ax.scatter(luts * r["tiles"], r["macs_per_cycle"])
                ax.annotate(_label(r), (luts * r["tiles"], r["macs_per_cycle"]), fontsize=5)
        ax.set_xlabel("LUTs (synthesis, x tiles)")
        ax.set_ylabel("MACs / cycle")
        fig.tight_layout()
        fig.savefig(out / "resources.png", dpi=120)
        plt.close(fig)
        written.append(out / "resources.png")
    return written


def _synthesis():
    """``{(rows, cols): luts}`` from ``<build>/sweep_synth.csv`` if present."""
    from ..sim.verilator_build import build_root
    path = build_root() / "sweep_synth.csv"
    if not path.exists():
        return {}
    with open(path) as f:
        return {(int(r["rows"]), int(r["cols"])): int(r["luts"]) for r in csv.DictReader(f)}


def run(args):
    if (args.grid_file is None) == (args.grid is None):
        raise UserError("give a grid file or --grid (one of them)")
    if args.grid_file is not None:
        grid, settings = load_grid_file(args.grid_file)
    else:
        grid, settings = parse_grid_spec(args.grid), {}
    if args.workers < 1:
        raise UserError("--workers must be >= 1")
    engine = args.engine or settings.get("engine", "rtl")
    base = args.base or settings.get("base", "sim")
    from ..config import preset
    try:
        preset(base)
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.out is None:
        from ..sim.verilator_build import build_root
        out = build_root() / "sweep"
    else:
        out = args.out
    result = sweep(grid, engine=engine, base=base, out=out, scheduler=args.scheduler,
                   workers=args.workers, plots=not args.no_plots)
    errors = sum(1 for r in result["rows"] if r["error"])
    print(f"{len(result['rows'])} points ({result['computed']} run, {result['cached']} cached, "
          f"{errors} with errors): {result['csv']}")
    return 0
