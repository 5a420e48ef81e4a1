"""Notifications through pluggable channels (log, SMS, e-mail, web push), with recorded deliveries and OTP."""

from cityops.notify.channels import (
    Channel,
    DeliveryResult,
    EmailChannel,
    LogChannel,
    Message,
    Recipient,
    SmsChannel,
    WebPushChannel,
)
from cityops.notify.notifier import (
    Notifier,
    deliver_due,
    notify,
    register_template,
    render,
    save_push_subscription,
)
from cityops.notify.otp import issue_otp, verify_otp

__all__ = [
    "Channel",
    "DeliveryResult",
    "EmailChannel",
    "LogChannel",
    "Message",
    "Notifier",
    "Recipient",
    "SmsChannel",
    "WebPushChannel",
    "deliver_due",
    "issue_otp",
    "notify",
    "register_template",
    "render",
    "save_push_subscription",
    "verify_otp",
]
