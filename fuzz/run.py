"""Run the fuzz targets of fuzz/targets.py for a while and report what happened.

    python fuzz/run.py                         # every target, 60 s each
    python fuzz/run.py --target wire --seconds 600
    python fuzz/run.py --engine mutate         # without atheris

Engines: ``atheris`` (coverage-guided libFuzzer, used when the atheris
package is installed; each target runs in its own process) and ``mutate``
(a coverage-less random mutator over the seed inputs: bit flips, byte
edits, insertions, deletions, splices, truncations). Corpora grow in
fuzz/corpus/<target>/ (atheris) and inputs that broke a target are written
to fuzz/findings/. The summary line per target gives the engine, the
number of inputs run, the time, and the findings; the exit status is 1
when anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
FINDINGS = os.path.join(HERE, "findings")


def _targets():  # type: ignore[no-untyped-def]
    sys.path.insert(0, HERE)
    import targets

    return targets


# -- the coverage-less mutator ------------------------------------------------------


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """One to four random edits of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # set a byte to an interesting value
            buf[rng.randrange(len(buf))] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        elif op == 2:  # insert random bytes
            buf[pos:pos] = os.urandom(rng.randint(1, 16))
        elif op == 3 and buf:  # delete a run
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 4:  # truncate
            del buf[pos:]
        elif op == 5 and buf:  # duplicate a chunk
            start = rng.randrange(len(buf))
            chunk = buf[start : start + rng.randint(1, 32)]
            buf[pos:pos] = chunk
        elif op == 6 and pool:  # splice with another input
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            buf[pos:] = other[cut:]
        elif op == 7 and len(buf) >= 4:  # overwrite a 32-bit length-like field
            i = rng.randrange(len(buf) - 3)
            buf[i : i + 4] = rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                                         rng.randrange(1 << 32)]).to_bytes(4, "big")
    return bytes(buf)


def run_mutator(name: str, seconds: float, seed: int) -> dict:
    targets = _targets()
    target = targets.TARGETS[name]
    seeds = targets.seeds(name)
    rng = random.Random(seed)
    pool = list(seeds)
    count, findings = 0, []
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < deadline:
        for _ in range(200):
            data = mutate(rng.choice(pool), rng, pool)
            count += 1
            try:
                target(data)
            except Exception as exc:  # noqa: BLE001 - every escaping exception is a finding
                findings.append(_save(name, data, exc))
            if rng.random() < 0.01:  # keep some mutants as new starting points
                pool.append(data)
                if len(pool) > 256:
                    del pool[len(seeds)]
    return {"target": name, "engine": "mutate", "inputs": count,
            "seconds": round(time.monotonic() - started, 1), "findings": findings,
            "seed": seed}


def _save(name: str, data: bytes, exc: BaseException) -> str:
    os.makedirs(FINDINGS, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:16]
    path = os.path.join(FINDINGS, f"{name}-{digest}")
    with open(path, "wb") as f:
        f.write(data)
    with open(path + ".txt", "w") as f:
        f.write("".join(traceback.format_exception(exc)))
    return f"{path}: {type(exc).__name__}: {exc}"


# -- atheris -------------------------------------------------------------------------


def run_atheris_child(name: str, seconds: float) -> None:
    """Inside the child process: fuzz one target with libFuzzer until the time is up."""
    import atheris

    targets = _targets()
    corpus = os.path.join(HERE, "corpus", name)
    os.makedirs(corpus, exist_ok=True)
    for i, data in enumerate(targets.seeds(name)):
        with open(os.path.join(corpus, f"seed-{i}"), "wb") as f:
            f.write(data)
    target = targets.TARGETS[name]
    targets.seeds(name)  # warm up (certificates for the tls target) before instrumenting
    atheris.instrument_all()
    os.makedirs(FINDINGS, exist_ok=True)
    atheris.Setup(
        [sys.argv[0], f"-max_total_time={int(seconds)}", "-print_final_stats=1",
         f"-artifact_prefix={FINDINGS}/{name}-", "-rss_limit_mb=2048", "-timeout=10", corpus],
        target,
    )
    atheris.Fuzz()


def run_atheris(name: str, seconds: float) -> dict:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", name, "--seconds", str(seconds)],
        capture_output=True, text=True, timeout=seconds + 120, check=False,
    )
    output = proc.stdout + proc.stderr
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", output)
    done = re.findall(r"Done (\d+) runs", output)
    count = int(runs[-1]) if runs else int(done[-1]) if done else 0
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", output)
    findings = []
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        findings.append(f"libFuzzer exited with {proc.returncode}:\n{tail}")
    result = {"target": name, "engine": "atheris", "inputs": count,
              "seconds": round(time.monotonic() - started, 1), "findings": findings}
    if cov:
        result["coverage"] = {"cov": int(cov[-1][0]), "features": int(cov[-1][1]),
                              "corpus": int(cov[-1][2])}
    return result


def _have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="all", help="wire, tls, refs or all (default)")
    parser.add_argument("--seconds", type=float, default=60.0, help="time per target (60)")
    parser.add_argument("--engine", choices=["auto", "atheris", "mutate"], default="auto")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the mutator")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_atheris_child(args.child, args.seconds)
        return 0
    names = list(_targets().TARGETS) if args.target == "all" else args.target.split(",")
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if _have_atheris() else "mutate"
        if engine == "mutate":
            print("atheris is not installed: using the coverage-less mutator", flush=True)
    status = 0
    for name in names:
        if engine == "atheris":
            result = run_atheris(name, args.seconds)
        else:
            seed = args.seed if args.seed is not None else random.randrange(1 << 32)
            result = run_mutator(name, args.seconds, seed)
        extra = ""
        if "coverage" in result:
            c = result["coverage"]
            extra = f", coverage {c['cov']} edges / {c['features']} features, corpus {c['corpus']}"
        if "seed" in result:
            extra = f", seed {result['seed']}"
        print(f"{name}: {result['engine']}, {result['inputs']} inputs in {result['seconds']}s"
              f"{extra}, {len(result['findings'])} finding(s)", flush=True)
        for finding in result["findings"]:
            print(f"  {finding}", flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
