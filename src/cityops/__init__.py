"""cityops — smart-city services platform for Vietnamese provinces."""

__version__ = "0.1.0"
