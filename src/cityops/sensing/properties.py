"""The observed properties the plugins declare (``observed_properties`` hook), looked up by code.

Sensing knows no property of its own: salinity, PM2.5 or vehicle flows are declared by the sectors that
measure them (``cityops.sectors.environment.properties``, ``cityops.sectors.traffic.specs``), and a third-party
sector adds its own the same way. Whoever needs a property's names, unit or plausible range (quality checks,
alert messages, the IOC) asks here, so it reads the declarations, never a sector's module.

The declarations are read once per set of registered plugins (a test registering a plugin sees its
properties); a wrong declaration fails naming its plugin (:func:`cityops.plugins.declarations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from cityops.plugins import declarations, plugin_manager
from cityops.specs import PropertySpec as PropertySpec  # moved to the kernel; re-exported for old imports


def declared() -> Mapping[str, PropertySpec]:
    """Every declared property by code, in plugin registration order."""
    names = frozenset(name for name, _ in plugin_manager().list_name_plugin())
    return _declared(names)


@lru_cache(maxsize=4)
def _declared(plugins: frozenset[str]) -> Mapping[str, PropertySpec]:
    return {spec.code: spec for _, spec in declarations("observed_properties", PropertySpec)}


def get(code: str) -> PropertySpec | None:
    """The property declared under ``code`` (None when no plugin declares it)."""
    return declared().get(code)
