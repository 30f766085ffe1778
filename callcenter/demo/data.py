"""Pools and generators of plausible customers in China (most speak Chinese to the hotline,
some English), their addresses and appliances, for the demo."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from billing.enums import ChargedTo, ServiceKind
from orders.enums import ApplianceCategory as C
from orders.enums import Milestone, OrderType
from orders.warranty import add_months


@dataclass(frozen=True)
class Region:
    province: str
    city: str
    area_code: str
    station_code: str
    station_name: str
    streets: dict[str, tuple[str, ...]]
    """District → roads in it."""


REGIONS: tuple[Region, ...] = (
    Region(
        "北京市", "北京市", "010", "BJ-CY", "北京朝阳服务站",
        {
            "朝阳区": ("建国路", "朝阳北路", "望京街", "酒仙桥路", "东三环中路"),
            "海淀区": ("中关村大街", "学院路", "成府路", "西三环北路"),
            "丰台区": ("丰台北路", "南三环西路", "富丰路"),
            "东城区": ("东直门南大街", "和平里东街"),
        },
    ),
    Region(
        "上海市", "上海市", "021", "SH-PD", "上海浦东服务站",
        {
            "浦东新区": ("张杨路", "世纪大道", "杨高南路", "锦绣路"),
            "徐汇区": ("漕溪北路", "肇嘉浜路", "天钥桥路"),
            "闵行区": ("莘松路", "七莘路", "虹井路"),
            "杨浦区": ("国权路", "控江路", "黄兴路"),
        },
    ),
    Region(
        "广东省", "广州市", "020", "GZ-TH", "广州天河服务站",
        {
            "天河区": ("天河路", "体育西路", "中山大道西", "黄埔大道西"),
            "越秀区": ("环市东路", "东风中路", "中山五路"),
            "海珠区": ("江南大道中", "新港中路"),
            "番禺区": ("繁华路", "迎宾路"),
        },
    ),
    Region(
        "广东省", "深圳市", "0755", "SZ-NS", "深圳南山服务站",
        {
            "南山区": ("科技南路", "南海大道", "深南大道", "后海大道"),
            "福田区": ("福华路", "红荔路", "香蜜湖路"),
            "宝安区": ("新安六路", "宝安大道"),
            "龙岗区": ("龙翔大道", "布吉路"),
        },
    ),
    Region(
        "四川省", "成都市", "028", "CD-WH", "成都武侯服务站",
        {
            "武侯区": ("人民南路四段", "武侯祠大街", "科华北路"),
            "锦江区": ("春熙路", "东大街"),
            "成华区": ("建设路", "府青路"),
            "青羊区": ("青华路", "光华大道"),
        },
    ),
    Region(
        "湖北省", "武汉市", "027", "WH-JH", "武汉江汉服务站",
        {
            "江汉区": ("解放大道", "建设大道", "新华路"),
            "武昌区": ("中北路", "武珞路", "徐东大街"),
            "洪山区": ("珞喻路", "雄楚大道"),
            "江岸区": ("沿江大道", "黄浦大街"),
        },
    ),
)  # fmt: skip

COMMUNITIES = (
    "阳光花园", "幸福家园", "金色家园", "翠湖小区", "华润城", "万科城市花园", "保利花园",
    "碧水蓝天", "绿地世纪城", "锦绣江南", "枫林绿洲", "富力城", "中海国际社区", "和平里小区",
)  # fmt: skip

# Common surnames first and repeated, so the mix looks like a real customer list.
SURNAMES = (
    "王王王李李李张张张刘刘陈陈杨杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖"
    "田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹"
    "薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
GIVEN_CHARACTERS = (
    "建国华明伟芳秀英丽强军磊洋勇艳杰娟涛超霞平刚桂兰志文海红玉梅婷浩宇鑫子涵欣怡俊博晨佳"
    "雪琳斌辉鹏飞凯云玲慧静敏丹宁"
)

ENGLISH_SHARE = 0.15
"""Households that call the hotline in English (foreign residents, mostly): the IVR greets
them in English and queues them for hotline-en, so both queues get calls."""
ENGLISH_GIVEN = (
    ("James", "Mr"), ("Daniel", "Mr"), ("Michael", "Mr"), ("Thomas", "Mr"), ("David", "Mr"),
    ("Emma", "Ms"), ("Olivia", "Ms"), ("Sophie", "Ms"), ("Laura", "Ms"), ("Anna", "Ms"),
)  # fmt: skip
ENGLISH_SURNAMES = (
    "Smith", "Brown", "Wilson", "Taylor", "Miller", "Clarke", "Evans", "Walker", "Hughes", "Martin",
)  # fmt: skip

# Number ranges that are really allocated to Chinese mobile operators.
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "177", "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "199",
)  # fmt: skip

CUSTOMER_NOTES = (
    "只在下午接电话",
    "家中有老人，上门前请提前电话联系",
    "小区门禁需提前登记车牌",
    "工作日白天家中无人，请约周末",
    "老客户，曾投诉过上门迟到",
)

CATEGORY_NAMES: dict[C, str] = {
    C.WASHING_MACHINE: "洗衣机",
    C.REFRIGERATOR: "冰箱",
    C.AIR_CONDITIONER: "空调",
    C.TV: "电视",
    C.WATER_HEATER: "热水器",
    C.RANGE_HOOD: "油烟机",
    C.GAS_STOVE: "燃气灶",
    C.MICROWAVE: "微波炉",
    C.DISHWASHER: "洗碗机",
    C.OTHER: "净水器",
}

BRANDS: dict[C, tuple[str, ...]] = {
    C.WASHING_MACHINE: ("海尔", "小天鹅", "美的", "西门子", "松下", "博世"),
    C.REFRIGERATOR: ("海尔", "美的", "容声", "西门子", "海信", "美菱"),
    C.AIR_CONDITIONER: ("格力", "美的", "海尔", "奥克斯", "海信", "大金"),
    C.TV: ("海信", "TCL", "创维", "小米", "索尼", "长虹"),
    C.WATER_HEATER: ("A.O.史密斯", "海尔", "美的", "万和", "万家乐", "林内"),
    C.RANGE_HOOD: ("方太", "老板", "华帝", "西门子"),
    C.GAS_STOVE: ("方太", "老板", "华帝", "万和", "林内"),
    C.MICROWAVE: ("格兰仕", "美的", "松下"),
    C.DISHWASHER: ("西门子", "方太", "美的", "海尔"),
    C.OTHER: ("沁园", "美的", "小米", "安吉尔"),
}

# "#" stands for a random digit.
MODELS: dict[C, tuple[str, ...]] = {
    C.WASHING_MACHINE: ("XQG100-BD14##", "TG100V8#WDG", "XQB90-##Y"),
    C.REFRIGERATOR: ("BCD-5##WDPD", "BCD-4##WTM", "BCD-6##WKPZM"),
    C.AIR_CONDITIONER: ("KFR-35GW/BP3DN8Y-##", "KFR-72LW/##FNhAa", "KFR-26GW/##FZBP"),
    C.TV: ("65E3##", "55V##", "75Q##G"),
    C.WATER_HEATER: ("ES60H-##", "JSQ25-13##", "CEWH-80P#"),
    C.RANGE_HOOD: ("CXW-260-JQ##", "CXW-200-##B"),
    C.GAS_STOVE: ("JZT-TH##B", "JZY-##G"),
    C.MICROWAVE: ("G80F23CN#P", "M1-L2##E"),
    C.DISHWASHER: ("SJ4##", "WQP12-W3##"),
    C.OTHER: ("JR-R##", "MRO1##-4"),
}

# Cover the manufacturers give for the whole machine (air conditioners: six years).
WARRANTY_MONTHS: dict[C, int] = {C.AIR_CONDITIONER: 72, C.REFRIGERATOR: 36, C.WASHING_MACHINE: 36}

FAULTS: dict[C, tuple[str, ...]] = {
    C.WASHING_MACHINE: (
        "洗衣机不脱水，显示E21故障代码",
        "甩干时机器剧烈晃动，声音很大",
        "洗衣机不进水，水龙头已打开",
        "底部漏水，地面有积水",
        "门锁打不开，衣服取不出来",
    ),
    C.REFRIGERATOR: (
        "冰箱冷藏室不制冷，冷冻正常",
        "冰箱压缩机一直运转不停机",
        "冷藏室内壁结冰，抽屉下面有积水",
        "冰箱运行时有咔咔异响",
    ),
    C.AIR_CONDITIONER: (
        "空调不制冷，出风是热的",
        "室内机滴水，墙面已经湿了",
        "开机几分钟后显示E1然后停机",
        "外机噪音很大，邻居投诉",
        "遥控器控制不了空调，指示灯闪烁",
    ),
    C.TV: (
        "电视有声音没有图像",
        "屏幕出现竖线，左侧发暗",
        "开机后反复重启，停在开机画面",
        "遥控器失灵，按键没有反应",
    ),
    C.WATER_HEATER: (
        "热水器不出热水，点不着火",
        "热水器显示E4，水温忽冷忽热",
        "热水器底部漏水",
        "电热水器漏电保护器跳闸",
    ),
    C.RANGE_HOOD: (
        "油烟机吸力变小，厨房油烟大",
        "油烟机开机后噪音异常",
        "油烟机按键失灵，灯不亮",
        "油杯漏油，滴到灶台上",
    ),
    C.GAS_STOVE: (
        "燃气灶打不着火，只有咔咔声",
        "燃气灶火焰发黄、熄火",
        "左边灶头点火后松手就灭",
    ),
    C.MICROWAVE: (
        "微波炉转盘不转，食物加热不均匀",
        "微波炉运行时打火花",
        "微波炉通电后不加热",
    ),
    C.DISHWASHER: (
        "洗碗机不排水，底部有积水",
        "洗碗机洗不干净，碗上有残渣",
        "洗碗机显示E15故障，无法启动",
    ),
    C.OTHER: (
        "净水器出水很慢，滤芯提示更换",
        "净水器一直在响，停不下来",
        "净水器接头处漏水",
    ),
}

TRANSITION_NOTES: dict[str, str] = {
    "assigned": "已派单至{station}",
    "accepted": "服务站已接单，安排工程师",
    "contacted": "已电话联系用户，约定上门时间",
    "in_service": "工程师开始检修",
    "waiting_parts": "需更换配件，已向厂家申请",
    "hard_to_repair": "疑难故障，已申请厂家技术支持",
    "completed": "维修完成，用户确认",
    "ready_for_pickup": "已修好，通知用户到站取机",
    "picked_up": "用户已取机",
    "closed": "回访完成，工单关闭",
    "cancelled": "用户来电取消：问题已自行解决",
    "reopened": "用户反映故障再次出现",
}

COMPLAINT_TOPICS: tuple[tuple[str, str], ...] = (
    ("上门超时", "约好上午上门，工程师下午才到，也没有提前通知"),
    ("维修质量", "刚修好没几天，同样的问题又出现了"),
    ("收费争议", "在保修期内却被收取了上门费"),
    ("配件等待过久", "等配件已经一个多星期，一直没有消息"),
    ("服务态度", "工程师态度不好，不愿意解释故障原因"),
)


def surname(rng: random.Random) -> str:
    return rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choice(SURNAMES)


def person_name(rng: random.Random, family_name: str | None = None) -> str:
    length = 1 if rng.random() < 0.3 else 2
    given = "".join(rng.choice(GIVEN_CHARACTERS) for _ in range(length))
    return (family_name or surname(rng)) + given


def english_name(rng: random.Random, family_name: str | None = None) -> tuple[str, str]:
    """A name and the title the IVR greets its bearer with ("Hello Ms Evans")."""
    given, title = rng.choice(ENGLISH_GIVEN)
    return f"{given} {family_name or rng.choice(ENGLISH_SURNAMES)}", title


def mobile(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def landline(rng: random.Random, region: Region) -> str:
    # Local numbers in these cities are eight digits and never start with 0, 1 or 9.
    return f"{region.area_code}-{rng.randint(2, 8)}{rng.randrange(10**7):07d}"


def street_address(rng: random.Random, road: str) -> str:
    floor = rng.randint(1, 28)
    return (
        f"{road}{rng.randint(1, 399)}号{rng.choice(COMMUNITIES)}"
        f"{rng.randint(1, 20)}号楼{rng.randint(1, 4)}单元{floor}{rng.randint(1, 4):02d}室"
    )


def model_number(rng: random.Random, category: C) -> str:
    template = rng.choice(MODELS[category])
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)


def purchase_fields(rng: random.Random, category: C, registered_on: date) -> dict[str, Any]:
    """Dates and cover of an appliance bought in the four years before it was registered."""
    warranty_months = WARRANTY_MONTHS.get(category, 12)
    made = registered_on - timedelta(days=rng.randint(30, 4 * 365))
    fields: dict[str, Any] = {"manufacture_date": made, "warranty_months": warranty_months}
    cover_from = made
    # Some customers have lost the invoice; the warranty then runs from the manufacture date.
    if rng.random() < 0.8:
        cover_from = min(made + timedelta(days=rng.randint(15, 180)), registered_on)
        fields |= {"purchase_date": cover_from, "has_invoice": True}
    if rng.random() < 0.15:
        extra = rng.choice((12, 24, 36))
        fields["extended_warranty_until"] = add_months(cover_from, warranty_months + extra)
    return fields


def order_description(rng: random.Random, category: C, order_type: OrderType) -> str:
    name = CATEGORY_NAMES[category]
    if order_type is OrderType.INSTALLATION:
        return f"新购{name}，预约上门安装"
    if order_type is OrderType.MAINTENANCE:
        return f"{name}使用多年，预约清洗保养"
    return rng.choice(FAULTS[category])


# Money: the fee schedule (有偿服务收费标准) and the rates the audit reads.

SERVICE_RATES = [
    (ServiceKind.INSTALLATION, 10000, 6000),
    (ServiceKind.REPAIR_MINOR, 5000, 3000),
    (ServiceKind.REPAIR_MEDIUM, 8000, 5000),
    (ServiceKind.REPAIR_MAJOR, 15000, 9000),
    (ServiceKind.DELIVERY, 3000, 2000),
    (ServiceKind.EXCHANGE, 4000, 2500),
    (ServiceKind.MALL_RETURN_REPAIR, 6000, 4000),
    (ServiceKind.CLEANING_PACKING, 6000, 3500),
    (ServiceKind.GAS_CONVERSION, 8000, 5000),
]
"""Service kind, labour charged to a customer out of warranty, the engineer's commission
(fen); outsourced work earns a fifth more."""
SERVICE_KIND_OF = {
    OrderType.REPAIR: ServiceKind.REPAIR_MEDIUM,
    OrderType.INSTALLATION: ServiceKind.INSTALLATION,
    OrderType.MAINTENANCE: ServiceKind.CLEANING_PACKING,
}
REWARD_ITEMS = [
    ("attitude", "服务态度好", 1000),
    ("timeliness", "服务及时", 1000),
    ("satisfaction", "客户满意", 1500),
    ("skill", "技术过硬", 1000),
    ("complaint", "客户投诉", -3000),
]
LATE_DEDUCTIONS = [
    (Milestone.ACKNOWLEDGE, 2000, ChargedTo.STATION),
    (Milestone.CONTACT, 2000, ChargedTo.STATION),
    (Milestone.ON_SITE, 3000, ChargedTo.ENGINEER),
    (Milestone.REPAIR, 5000, ChargedTo.STATION),
]

PARTS = [
    ("WM-PUMP-01", "洗衣机排水泵", 4500, 6800),
    ("WM-DOOR-SEAL", "滚筒门封圈", 6000, 9000),
    ("RF-THERMO-02", "冰箱温控器", 3500, 5500),
    ("AC-PCB-35", "空调内机主板", 18000, 26000),
    ("AC-FAN-OUT", "空调外机风扇电机", 22000, 32000),
    ("WH-HEATER-2K", "热水器加热管", 8000, 12000),
]
"""Code, name, the station's price and the public price (fen)."""
