"""The national dossier status codes (trạng thái hồ sơ) the one-stop-shop systems exchange with the national
public-service portal, with what a citizen reads for each.

Codes as the provincial systems send them to the national portal's status synchronisation (1–10); check them
against the portal's current integration document before production use (docs/sectors-services.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Status:
    code: str
    name_vi: str
    name_en: str
    closed: bool  # no more processing is due (its due date no longer runs)


STATUSES: dict[str, Status] = {
    s.code: s
    for s in (
        Status("1", "Mới đăng ký", "Newly registered", False),
        Status("2", "Được tiếp nhận", "Received", False),
        Status("3", "Không được tiếp nhận", "Not accepted", True),
        Status("4", "Đang xử lý", "Being processed", False),
        Status("5", "Yêu cầu bổ sung giấy tờ", "Additional documents requested", False),
        Status("6", "Yêu cầu thực hiện nghĩa vụ tài chính", "Fees or taxes to pay", False),
        Status("7", "Công dân yêu cầu rút hồ sơ", "Withdrawn at the applicant's request", True),
        Status("8", "Dừng xử lý", "Processing stopped", True),
        Status("9", "Đã xử lý xong", "Processed, result ready", False),
        Status("10", "Đã trả kết quả", "Result returned", True),
    )
}

CLOSED = frozenset(code for code, s in STATUSES.items() if s.closed)
# A dossier waiting on its applicant does not run late against the office (the clock is paused).
WAITING_ON_APPLICANT = frozenset({"5", "6"})
