"""What the SAM's SW3 byte means, and what the kiosk should do about it.

Every wire status from the vendor table (reference §3) maps to one `Outcome`, so the flow
branches on a handful of outcomes instead of twenty codes, and each code keeps a Chinese
and an English explanation for the installer's screen and the health detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from firmware.kiosk.idcard.errors import IdCardError


class Outcome(Enum):
    OK = "ok"  # command done
    CARD_FOUND = "card_found"  # find: a card is on the antenna
    NO_CARD = "no_card"  # find/select: nothing (more) on the antenna; wait
    NO_ITEM = "no_item"  # the card lacks the optional item asked for (appended address)
    RETRY_CARD = "retry_card"  # RF exchange failed; ask the person to lay the card again
    CARD_REJECTED = "card_rejected"  # card failed authentication / unknown type: staff check
    COMMAND_REJECTED = "command_rejected"  # the SAM refused our frame; driver bug or noise
    SAM_FAULT = "sam_fault"  # the security module itself is unusable; reader needs service
    UNKNOWN = "unknown"  # a code outside the published table


@dataclass(frozen=True, slots=True)
class Status:
    code: int
    name: str
    zh: str
    en: str
    outcome: Outcome

    def __str__(self) -> str:
        return f"SW3 0x{self.code:02X} {self.name}: {self.zh} / {self.en}"


_TABLE = (
    (0x90, "success", "操作成功", "success", Outcome.OK),
    (0x91, "no_such_item", "证/卡中此项无内容", "the card holds no such item", Outcome.NO_ITEM),
    (0x9F, "card_found", "寻找证/卡成功", "card found", Outcome.CARD_FOUND),
    (
        0x10,
        "checksum_error",
        "接收业务终端数据的校验和错",
        "checksum error in our frame",
        Outcome.COMMAND_REJECTED,
    ),
    (
        0x11,
        "length_error",
        "接收业务终端数据的长度错",
        "length error in our frame",
        Outcome.COMMAND_REJECTED,
    ),
    (
        0x21,
        "command_error",
        "接收业务终端的命令错误",
        "command not understood",
        Outcome.COMMAND_REJECTED,
    ),
    (0x23, "not_permitted", "越权操作", "operation not permitted", Outcome.COMMAND_REJECTED),
    (0x24, "unrecognised_error", "无法识别的错误", "unrecognised error", Outcome.RETRY_CARD),
    (
        0x31,
        "card_auth_sam_failed",
        "证/卡认证SAM失败",
        "card failed to authenticate the SAM",
        Outcome.CARD_REJECTED,
    ),
    (
        0x32,
        "sam_auth_card_failed",
        "SAM认证证/卡失败",
        "SAM failed to authenticate the card",
        Outcome.CARD_REJECTED,
    ),
    (
        0x33,
        "verification_failed",
        "信息验证失败",
        "information verification failed",
        Outcome.CARD_REJECTED,
    ),
    (
        0x37,
        "fingerprint_error",
        "指纹信息验证错误",
        "fingerprint verification error",
        Outcome.CARD_REJECTED,
    ),
    (0x3F, "length_mismatch", "信息长度错误", "information length error", Outcome.RETRY_CARD),
    (
        0x40,
        "unknown_card_type",
        "无法识别的证/卡类型",
        "card type not recognised",
        Outcome.CARD_REJECTED,
    ),
    (0x41, "read_failed", "读证/卡操作失败", "reading the card failed", Outcome.RETRY_CARD),
    (0x47, "random_failed", "取随机数失败", "could not get a random number", Outcome.RETRY_CARD),
    (
        0x60,
        "sam_selftest_failed",
        "SAM自检失败，不能接收命令",
        "SAM self-test failed",
        Outcome.SAM_FAULT,
    ),
    (0x66, "sam_unauthorised", "SAM未经授权，无法使用", "SAM not authorised", Outcome.SAM_FAULT),
    (0x80, "no_card", "寻找证/卡失败", "no card found", Outcome.NO_CARD),
    (0x81, "select_failed", "选取证/卡失败", "selecting the card failed", Outcome.NO_CARD),
)

STATUSES: dict[int, Status] = {row[0]: Status(*row) for row in _TABLE}
SUCCESS_CODES = frozenset({0x90, 0x9F})


def status_for(code: int) -> Status:
    known = STATUSES.get(code)
    if known is not None:
        return known
    return Status(
        code, "unknown", "未知状态", "status not in the published table", Outcome.UNKNOWN
    )


class StatusError(IdCardError):
    """The reader answered, but with a non-success SW3. `.status.outcome` says what to do."""

    def __init__(self, status: Status, command: str = "") -> None:
        self.status = status
        self.command = command
        super().__init__(f"{command}: {status}" if command else str(status))

    @property
    def outcome(self) -> Outcome:
        return self.status.outcome

    @property
    def code(self) -> int:
        return self.status.code
