"""The kinds of the money domain."""

from __future__ import annotations

from enum import StrEnum


class ServiceKind(StrEnum):
    """维修工种: what the work was, for the customer's fee and the engineer's commission."""

    INSTALLATION = "installation"  # 安装调试
    REPAIR_MINOR = "repair_minor"  # 小修
    REPAIR_MEDIUM = "repair_medium"  # 中修
    REPAIR_MAJOR = "repair_major"  # 大修
    DELIVERY = "delivery"  # 送货
    EXCHANGE = "exchange"  # 调换货
    MALL_RETURN_REPAIR = "mall_return_repair"  # 商返机维修
    CLEANING_PACKING = "cleaning_packing"  # 清洁打包
    GAS_CONVERSION = "gas_conversion"  # 天然气与液化气的转换


class FeeKind(StrEnum):
    LABOUR = "labour"  # by service kind (and appliance category)
    TRAVEL = "travel"  # by whether the address is urban


class QuoteStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class ApprovalMethod(StrEnum):
    """How the customer said yes (or no) to a quote."""

    IN_PERSON = "in_person"  # signed on site
    PHONE = "phone"  # on a recorded call
    SMS = "sms"  # replied to a message


class Confirmation(StrEnum):
    """How the customer confirmed the completed work on the completion slip."""

    SIGNATURE = "signature"  # a signature image
    CODE = "code"  # the confirmation code the customer was given


class SlipStatus(StrEnum):
    SUBMITTED = "submitted"  # waiting for the auditor
    RETURNED = "returned"  # sent back to the station to correct
    APPROVED = "approved"  # audited: commission computed


class ChargedTo(StrEnum):
    STATION = "station"
    ENGINEER = "engineer"
