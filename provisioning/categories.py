"""Venue categories, as the municipal notice lists them (shared/seeds/README.md).

Supervising departments set measures per category and the province counts flows per
category, so a venue's category must be one of a fixed list, spelled one way. The key is
what files and the wire carry; the Chinese name is what people read. `moving` marks the
vehicles that are registered by number plate instead of a unified social credit code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    zh: str
    en: str
    group: str
    moving: bool = False


GROUPS: dict[str, tuple[str, str]] = {
    "enclosed": ("重点场所及人员密集的封闭场所", "Key and enclosed crowded places"),
    "entry": ("城市入口", "City entry points"),
    "stay": ("人员居住场所", "Places where people stay"),
    "moving": ("移动场所", "Moving places"),
    "unit": ("大型场所内的摊位和区域", "Stalls and zones inside large venues"),
    "small": ("小型人员密集场所", "Small crowded places"),
    "public": ("其他公共场所", "Other public places"),
}

_TABLE: tuple[tuple[str, str, str, str], ...] = (
    # key, zh, en, group
    ("medical", "医疗机构", "Medical institution", "enclosed"),
    ("school", "学校", "School", "enclosed"),
    ("scenic_spot", "景区", "Scenic spot", "enclosed"),
    ("park", "公园", "Park", "public"),
    ("prison", "监所", "Prison", "enclosed"),
    ("elderly_care", "养老机构", "Elderly care", "enclosed"),
    ("childcare", "托育机构", "Childcare", "enclosed"),
    ("training", "培训机构", "Training centre", "enclosed"),
    ("child_welfare", "儿童福利机构", "Child welfare institution", "enclosed"),
    ("supermarket", "大型商超", "Large supermarket or mall", "enclosed"),
    ("farmers_market", "农贸市场", "Farmers' market", "enclosed"),
    ("factory", "工厂企业", "Factory", "enclosed"),
    ("construction_site", "建筑工地", "Construction site", "enclosed"),
    ("post_parcel", "邮政快递网点", "Post and parcel point", "enclosed"),
    ("exhibition_hall", "展览馆", "Exhibition hall", "enclosed"),
    ("stadium", "体育场馆", "Stadium", "enclosed"),
    ("library", "图书馆", "Library", "enclosed"),
    ("museum", "博物馆", "Museum", "enclosed"),
    ("cultural_centre", "文化馆", "Cultural centre", "enclosed"),
    ("cinema", "影剧院", "Cinema or theatre", "enclosed"),
    ("entertainment", "娱乐场所", "Entertainment venue", "enclosed"),
    ("internet_cafe", "网吧", "Internet café", "small"),
    ("office_building", "写字楼", "Office building", "enclosed"),
    ("other_enclosed", "其他密闭人员密集场所", "Other enclosed crowded place", "enclosed"),
    ("port", "口岸", "Port of entry", "entry"),
    ("dock", "码头", "Dock", "entry"),
    ("railway_station", "火车站", "Railway station", "entry"),
    ("coach_station", "汽车站", "Coach station", "entry"),
    ("motorway_exit", "高速公路出口", "Motorway exit", "entry"),
    ("airport", "机场", "Airport", "entry"),
    ("residential", "居民小区", "Residential compound", "stay"),
    ("village", "村组", "Village", "stay"),
    ("hotel", "宾馆酒店", "Hotel", "stay"),
    ("homestay", "民宿", "Home-stay", "stay"),
    ("bus", "公交车", "Bus", "moving"),
    ("metro", "地铁", "Metro", "moving"),
    ("taxi", "出租车", "Taxi", "moving"),
    ("ride_hailing", "网约车", "Ride-hailing car", "moving"),
    ("stall", "摊位", "Stall", "unit"),
    ("zone", "功能区域", "Zone inside a large venue", "unit"),
    ("small_shop", "小商店", "Small shop", "small"),
    ("restaurant", "餐馆", "Restaurant", "small"),
    ("hostel", "小旅馆", "Hostel", "small"),
    ("street_vendor", "流动摊贩", "Street vendor", "small"),
    ("karaoke", "歌舞厅", "Karaoke", "small"),
    ("bath_house", "洗浴场所", "Bath house", "small"),
    ("workshop", "小作坊", "Workshop", "small"),
    ("chess_room", "棋牌室", "Chess and mahjong room", "small"),
    ("public_toilet", "公厕", "Public toilet", "public"),
    ("parcel_locker", "快递柜", "Parcel locker", "public"),
    ("reading_room", "阅览室", "Reading room", "public"),
    ("community_centre", "社区服务中心", "Community centre", "public"),
)

# Vehicles are registered by plate; the metro is run by a company with a credit code.
_PLATE_CATEGORIES = frozenset({"bus", "taxi", "ride_hailing"})

CATEGORIES: dict[str, Category] = {
    key: Category(key, zh, en, group, key in _PLATE_CATEGORIES) for key, zh, en, group in _TABLE
}
_BY_ZH = {c.zh: c for c in CATEGORIES.values()}


class UnknownCategory(ValueError):
    pass


def lookup(value: str) -> Category:
    """A category by its key or its Chinese name (registers exported by hand use either)."""
    text = value.strip()
    found = CATEGORIES.get(text.lower()) or _BY_ZH.get(text)
    if found is None:
        raise UnknownCategory(
            f"unknown category {text!r} (see `python -m provisioning categories`)"
        )
    return found
