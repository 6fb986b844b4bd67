"""orb.gc: lease-based distributed garbage collection (after Java RMI's DGC)."""
