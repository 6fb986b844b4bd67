"""orb.naming: the naming service, its clients, and discovery by mDNS.

* :class:`NamingService` is the service object (exported at the well-known
  object id ``orb.naming`` by the ``orb-naming`` daemon).
* :func:`locate` finds a naming service on the LAN by mDNS;
  :func:`naming_proxy` returns a proxy for one (explicit argument, else
  ``ORB_NAMING``, else mDNS); :func:`resolve` resolves a name to a proxy.
* :class:`SQLiteStore` and :class:`MemoryStore` keep the bindings.
"""

from ._client import NAMING_ENV, NameKeeper, find_naming, naming_proxy, naming_uri, resolve
from ._mdns import DOMAIN_ENV, INTERFACES_ENV, SERVICE_TYPE, Advertiser, Found, browse, locate
from ._names import MAX_NAME_LENGTH, InvalidName, validate
from ._service import DEFAULT_LEASE, NAMING_OBJECT_ID, NamingService
from ._store import MemoryStore, Record, SQLiteStore, Store, default_store_path

__all__ = [
    "DEFAULT_LEASE",
    "DOMAIN_ENV",
    "INTERFACES_ENV",
    "MAX_NAME_LENGTH",
    "NAMING_ENV",
    "NAMING_OBJECT_ID",
    "SERVICE_TYPE",
    "Advertiser",
    "Found",
    "InvalidName",
    "MemoryStore",
    "NameKeeper",
    "NamingService",
    "Record",
    "SQLiteStore",
    "Store",
    "browse",
    "default_store_path",
    "find_naming",
    "locate",
    "naming_proxy",
    "naming_uri",
    "resolve",
    "validate",
]
