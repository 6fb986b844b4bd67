"""The environment the test suites give the processes they start.

A child (the ``orb`` command, an ``orb-naming`` daemon, a server or a TLS
peer) reads orb's settings from its environment: ``ORB_NAMING``,
``ORB_NAMING_DOMAIN``, ``ORB_MDNS_INTERFACES``, ``ORB_TLS_*``,
``ORB_REPL_HISTORY``. None of the developer's values may reach it, so every
``ORB_*`` variable is dropped and a test passes the ones it means. mDNS is
pinned to loopback, so a child that looks for a naming service never sends
on a real interface. Other variables (``PATH``, ``PYTHONPATH``, ...) pass, so
the child imports the same orb as the tests.
"""

from __future__ import annotations

import os

#: The prefix of every variable orb reads.
ORB_PREFIX = "ORB_"
#: Where a child's mDNS discovery and advertisement stay unless a test says otherwise.
LOOPBACK = "127.0.0.1"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``ORB_*`` variable, plus ``extra``.

    ``ORB_MDNS_INTERFACES`` is ``127.0.0.1`` and ``PYTHONUNBUFFERED`` is set
    (a child's lines arrive as it prints them) unless ``extra`` says otherwise.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(ORB_PREFIX)}
    env["ORB_MDNS_INTERFACES"] = LOOPBACK
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
