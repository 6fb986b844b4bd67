"""orb.gc: lease-based distributed garbage collection, after Java RMI's DGC.

Every broker hosts a :class:`Collector` at the well-known object id
``orb.dgc`` (the owner side) and a :class:`LeaseHolder` (the client side).
See docs/PROTOCOL.md ("Distributed garbage collection") for the calls and
the rules, and :class:`orb.DGCConfig` for the settings.
"""

from ._collector import DGC_OBJECT_ID, Collector
from ._holder import LeaseHolder
from ._leases import LeaseTable

__all__ = ["DGC_OBJECT_ID", "Collector", "LeaseHolder", "LeaseTable"]
