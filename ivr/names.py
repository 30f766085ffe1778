"""Words the IVR speaks about things: surnames, appliance categories, order statuses."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

HOTLINE_ZONE = ZoneInfo("Asia/Shanghai")
"""Callback times are said in the hotline's zone, as its business hours are."""

# Two-character surnames are few; anything else is a one-character surname.
COMPOUND_SURNAMES = frozenset(
    {
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "令狐",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "百里",
    }
)

CATEGORIES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "washing_machine": "洗衣机",
        "refrigerator": "冰箱",
        "air_conditioner": "空调",
        "tv": "电视",
        "water_heater": "热水器",
        "range_hood": "油烟机",
        "gas_stove": "燃气灶",
        "microwave": "微波炉",
        "dishwasher": "洗碗机",
        "other": "电器",
    },
    "en": {
        "washing_machine": "washing machine",
        "refrigerator": "refrigerator",
        "air_conditioner": "air conditioner",
        "tv": "TV",
        "water_heater": "water heater",
        "range_hood": "range hood",
        "gas_stove": "gas stove",
        "microwave": "microwave",
        "dishwasher": "dishwasher",
        "other": "appliance",
    },
}

STATUSES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "new": "已受理，等待派单",
        "assigned": "已派单到服务网点",
        "accepted": "网点已接单",
        "contacted": "已与您联系预约",
        "in_service": "维修中",
        "waiting_parts": "待件",
        "hard_to_repair": "难修，技术支持中",
        "completed": "已完成",
        "ready_for_pickup": "待取",
        "picked_up": "已取",
        "closed": "已结案",
        "cancelled": "已取消",
        "reopened": "已重新受理",
    },
    "en": {
        "new": "received, waiting for dispatch",
        "assigned": "assigned to a service station",
        "accepted": "accepted by the station",
        "contacted": "the station has contacted you",
        "in_service": "in repair",
        "waiting_parts": "waiting for parts",
        "hard_to_repair": "with our technical support",
        "completed": "completed",
        "ready_for_pickup": "ready for pick-up",
        "picked_up": "picked up",
        "closed": "closed",
        "cancelled": "cancelled",
        "reopened": "reopened",
    },
}


def surname_of(name: str) -> str:
    name = name.strip()
    if name[:2] in COMPOUND_SURNAMES:
        return name[:2]
    if name.isascii():
        return name.split()[-1] if name.split() else name
    return name[:1]


def category_word(language: str, category: str) -> str:
    return CATEGORIES.get(language, CATEGORIES["zh-CN"]).get(category, category)


def category_name(language: str, brand: str, category: str) -> str:
    word = category_word(language, category)
    return f"{brand}{word}" if language.startswith("zh") else f"{brand} {word}"


def status_name(language: str, status: str) -> str:
    return STATUSES.get(language, STATUSES["zh-CN"]).get(status, status)


def time_name(language: str, moment: datetime, today: date) -> str:
    """A callback time as the caller hears it, in the hotline's zone: 今天14:00,
    明天09:30, 12月7日10:00; today 14:00, tomorrow 09:30, Dec 7 10:00."""
    local = moment.astimezone(HOTLINE_ZONE)
    days = (local.date() - today).days
    if language.startswith("zh"):
        day = {0: "今天", 1: "明天"}.get(days, f"{local.month}月{local.day}日")
        return f"{day}{local:%H:%M}"
    day = {0: "today", 1: "tomorrow"}.get(days, f"{local:%b} {local.day}")
    return f"{day} {local:%H:%M}"
