"""Fixtures of the notify tests: every test here fails if its logs hold a phone number or e-mail (#21)."""

from tests.security.logscrub import no_personal_data_in_logs

__all__ = ["no_personal_data_in_logs"]
