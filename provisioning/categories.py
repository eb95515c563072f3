"""Venue categories, as the municipal notice lists them (shared/seeds/, seed 002).

The notice sorts the places that must hold a venue code into six groups and names, for
each kind of place, the department that supervises its use of the code; it also asks
that sentinel places (哨点, places whose visitors show an outbreak early: clinics,
pharmacies, markets, entry points) hold one without exception. Supervising departments
set measures per category and the province counts flows per category, so a venue's
category is one of this fixed list, spelled one way. The key is what files and the wire
carry; the Chinese name is what people read. `moving` marks the vehicles registered by
number plate instead of a unified social credit code.

Keys already in registers are never renamed; a category the notice adds gets a new key.
`other_public` is the notice's own catch-all ("places not listed above that also need a
venue code").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    zh: str
    en: str
    group: str  # a key of GROUPS
    department: str  # a key of DEPARTMENTS
    sentinel: bool = False
    moving: bool = False


# The notice's six groups, in its order.
GROUPS: dict[str, tuple[str, str]] = {
    "workplace": ("法人机构和工商户的工作和营商场所",
                  "Workplaces and business premises of organisations and traders"),
    "key": ("疫情防控重点场所、重点人员工作生活区", "Key places and key workers' premises"),
    "flow": ("城市出入口、人员落脚点、人群流动中的场所",
             "City entry points, places people stay, moving places"),
    "unit": ("大型场所内的最小功能单元", "Smallest functional units inside large venues"),
    "small": ("人员聚集性强的小场所", "Small crowded places"),
    "public": ("其他公共场所", "Other public places"),
}  # fmt: skip

# Who supervises a category's use of the code (the notice's section on supervision;
# where it names none, the department a district would ask).
DEPARTMENTS: dict[str, tuple[str, str]] = {
    "health": ("卫生健康部门", "Health commission"),
    "transport": ("交通运输部门", "Transport department"),
    "construction": ("住建、水利、交通部门", "Housing, water and transport departments"),
    "civil_affairs": ("民政部门", "Civil affairs department"),
    "education": ("教育部门", "Education department"),
    "culture_tourism": ("文化旅游部门", "Culture and tourism department"),
    "commerce": ("商务部门", "Commerce department"),
    "drugs": ("药品监管部门", "Drug administration"),
    "urban": ("城市管理部门", "Urban management department"),
    "market": ("市场监管部门", "Market regulation department"),
    "postal": ("邮政管理部门", "Postal administration"),
    "justice": ("司法行政部门", "Justice department"),
    "township": ("乡镇（街道）", "Township or sub-district office"),
    "employer": ("本单位及其主管部门", "The organisation and its line department"),
}

_TABLE: tuple[tuple[str, str, str, str, str], ...] = (
    # key, zh, en, group, department
    # (一) organisations' and traders' premises
    ("workplace", "机关/企事业单位经营场所", "Premises of an authority, institution or company",
     "workplace", "employer"),
    ("trader", "个体工商户经营场所", "Sole trader's premises", "workplace", "market"),
    # (二) key places
    ("medical", "医疗机构", "Medical institution", "key", "health"),
    ("clinic", "诊所/社区卫生服务站", "Clinic or community health station", "key", "health"),
    ("pharmacy", "药店", "Pharmacy", "key", "drugs"),
    ("school", "学校", "School", "key", "education"),
    ("scenic_spot", "景区", "Scenic spot", "key", "culture_tourism"),
    ("prison", "监所", "Prison", "key", "justice"),
    ("elderly_care", "养老机构", "Elderly care", "key", "civil_affairs"),
    ("childcare", "托育机构", "Childcare", "key", "education"),
    ("training", "培训机构", "Training centre", "key", "education"),
    ("child_welfare", "儿童福利机构", "Child welfare institution", "key", "civil_affairs"),
    ("rescue_station", "救助站", "Shelter for homeless people (rescue station)", "key",
     "civil_affairs"),
    ("supermarket", "大型商超", "Large supermarket or mall", "key", "commerce"),
    ("farmers_market", "农贸市场", "Farmers' market", "key", "commerce"),
    ("factory", "工厂企业", "Factory", "key", "market"),
    ("construction_site", "建筑工地", "Construction site", "key", "construction"),
    ("post_parcel", "邮政快递网点", "Post and parcel point", "key", "postal"),
    ("exhibition_hall", "展览馆", "Exhibition hall", "key", "culture_tourism"),
    ("stadium", "体育场馆", "Stadium", "key", "culture_tourism"),
    ("library", "图书馆", "Library", "key", "culture_tourism"),
    ("museum", "博物馆", "Museum", "key", "culture_tourism"),
    ("cultural_centre", "文化馆", "Cultural centre", "key", "culture_tourism"),
    ("cinema", "影剧院", "Cinema or theatre", "key", "culture_tourism"),
    ("entertainment", "娱乐场所", "Entertainment venue", "key", "culture_tourism"),
    ("internet_cafe", "网吧", "Internet café", "key", "culture_tourism"),
    ("office_building", "写字楼", "Office building", "key", "employer"),
    ("office", "办公场所", "Offices", "key", "employer"),
    ("other_enclosed", "其他密闭人员密集场所", "Other enclosed crowded place", "key", "market"),
    # (三) city entry points, places people stay, moving places
    ("port", "口岸", "Port of entry", "flow", "transport"),
    ("dock", "码头", "Dock", "flow", "transport"),
    ("railway_station", "火车站", "Railway station", "flow", "transport"),
    ("coach_station", "汽车站", "Coach station", "flow", "transport"),
    ("motorway_exit", "高速公路出口", "Motorway exit", "flow", "transport"),
    ("airport", "机场", "Airport", "flow", "transport"),
    ("residential", "居民小区", "Residential compound", "flow", "township"),
    ("village", "村组", "Village", "flow", "township"),
    ("hotel", "宾馆酒店", "Hotel", "flow", "culture_tourism"),
    ("homestay", "民宿", "Home-stay", "flow", "culture_tourism"),
    ("bus", "公交车", "Bus", "flow", "transport"),
    ("metro", "地铁", "Metro", "flow", "transport"),
    ("taxi", "出租车", "Taxi", "flow", "transport"),
    ("ride_hailing", "网约车", "Ride-hailing car", "flow", "transport"),
    # (四) smallest functional units inside large venues, and the large venues themselves
    ("wholesale_market", "批发市场", "Wholesale market", "unit", "commerce"),
    ("specialty_market", "专业市场", "Specialty market", "unit", "commerce"),
    ("convention_centre", "会展中心", "Convention and exhibition centre", "unit", "commerce"),
    ("stall", "摊位", "Stall", "unit", "commerce"),
    ("zone", "功能区域", "Zone inside a large venue", "unit", "commerce"),
    # (五) small crowded places
    ("small_shop", "小商店", "Small shop", "small", "commerce"),
    ("restaurant", "餐馆", "Restaurant", "small", "commerce"),
    ("hostel", "小旅馆", "Hostel", "small", "culture_tourism"),
    ("street_vendor", "流动摊贩", "Street vendor", "small", "urban"),
    ("karaoke", "歌舞厅", "Karaoke", "small", "culture_tourism"),
    ("small_internet_cafe", "小网吧", "Small internet café", "small", "culture_tourism"),
    ("beauty_salon", "美容美发", "Beauty or hair salon", "small", "market"),
    ("bath_house", "洗浴场所", "Bath house", "small", "market"),
    ("workshop", "小作坊", "Workshop", "small", "market"),
    ("chess_room", "棋牌室", "Chess and mahjong room", "small", "market"),
    # (六) other public places
    ("park", "公园", "Park", "public", "urban"),
    ("public_toilet", "公厕", "Public toilet", "public", "urban"),
    ("parcel_locker", "快递柜", "Parcel locker", "public", "postal"),
    ("reading_room", "阅览室", "Reading room", "public", "township"),
    ("public_post", "公共驿站", "Public rest station", "public", "township"),
    ("community_centre", "社区服务中心", "Community centre", "public", "township"),
    ("other_public", "其他公共场所", "Other public place", "public", "township"),
)  # fmt: skip

# Vehicles are registered by plate; the metro is run by a company with a credit code.
_PLATE_CATEGORIES = frozenset({"bus", "taxi", "ride_hailing"})
# Sentinel places: where the sick go first (clinics, pharmacies), where goods and people
# from elsewhere arrive (markets, entry points).
SENTINELS = frozenset({
    "medical", "clinic", "pharmacy", "farmers_market", "wholesale_market", "port", "dock",
    "railway_station", "coach_station", "motorway_exit", "airport",
})  # fmt: skip

CATEGORIES: dict[str, Category] = {
    key: Category(key, zh, en, group, department, key in SENTINELS, key in _PLATE_CATEGORIES)
    for key, zh, en, group, department in _TABLE
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
