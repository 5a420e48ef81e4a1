"""Notifications through pluggable channels (log, SMS, e-mail, web push), with recorded deliveries and OTP."""
