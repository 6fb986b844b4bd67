"""orb: an object request broker for Python.

Export ordinary Python objects from one process and call them from others
through proxies that feel local::

    import orb

    @orb.expose
    class Calculator:
        def add(self, a: int, b: int) -> int:
            return a + b

    with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
        uri = str(broker.export(Calculator()))
        ...
    calc = orb.proxy(uri)
    calc.add(2, 3)

``orb.future`` and ``orb.batch`` start calls without waiting; a servant
method that returns an iterator streams it (``orb.Stream``); ``orb.aio``
is the asyncio API (``await proxy.method()``, ``async def`` servants).
"""

from typing import Any

from ._api import describe, invoke, proxy, ref, resolve
from ._broker import ORB
from ._config import Config, DGCConfig, Limits
from ._context import CallContext, Peer, current
from ._errors import (
    AccessDenied,
    AlreadyBound,
    CommunicationError,
    EncodeError,
    LocalProtocolError,
    NameNotFound,
    ObjectNotFound,
    OrbError,
    ProtocolError,
    RemoteError,
    RemoteTraceback,
    TimeoutError,
)
from ._exposure import Instance, expose, oneway
from ._futures import Batch, batch, future
from ._interface import Interface, Method, Parameter, Property
from ._proxy import Proxy, call_timeout
from ._refs import Endpoint, ObjectRef
from ._streams import Stream
from ._wire import Codec

__version__ = "0.1.0"

__all__ = [
    "ORB",
    "AccessDenied",
    "AlreadyBound",
    "Batch",
    "CallContext",
    "Codec",
    "CommunicationError",
    "Config",
    "DGCConfig",
    "EncodeError",
    "Endpoint",
    "Instance",
    "Interface",
    "Limits",
    "LocalProtocolError",
    "Method",
    "NameNotFound",
    "ObjectNotFound",
    "ObjectRef",
    "OrbError",
    "Parameter",
    "Peer",
    "Property",
    "ProtocolError",
    "Proxy",
    "RemoteError",
    "RemoteTraceback",
    "Stream",
    "TimeoutError",
    "__version__",
    "aio",
    "batch",
    "call_timeout",
    "current",
    "describe",
    "expose",
    "future",
    "invoke",
    "oneway",
    "proxy",
    "ref",
    "resolve",
]


def __getattr__(name: str) -> Any:
    # orb.aio imports asyncio: loaded on first use, so blocking programs skip it.
    if name == "aio":
        import importlib

        return importlib.import_module("orb.aio")
    raise AttributeError(f"module 'orb' has no attribute {name!r}")
