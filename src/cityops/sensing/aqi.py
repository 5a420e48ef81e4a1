"""Moved to :mod:`cityops.sectors.environment.aqi` (VN_AQI is environment knowledge).

This re-export remains only while ``web/ioc.py`` (and its test) still import it from here; it goes when the
IOC reads the environment's dashboard panels instead (issue #12).
"""

from cityops.sectors.environment.aqi import BANDS as BANDS
from cityops.sectors.environment.aqi import Pollutant as Pollutant
from cityops.sectors.environment.aqi import band_for as band_for
from cityops.sectors.environment.aqi import sub_index as sub_index
