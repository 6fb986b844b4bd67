"""Side-by-side benchmarks: orb against Pyro5, RPyC and a floor, in one run.

``make bench`` (or ``python -m bench``) starts one echo server per system,
each in its own process on loopback, runs every scenario against each and
prints one table with the ratios. docs/PERFORMANCE.md explains the
scenarios and records a run.
"""
