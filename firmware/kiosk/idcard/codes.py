"""Code tables printed on the card as digits: sex (GB/T 2261.1), ethnic group (GB/T 3304)
and province-level region (GB/T 2260, first two digits of an ID number).

Names follow the current standard (97/98 for 其他/外国血统, 毛南, 德昂), not the older
variants some readers' SDKs still carry (reference §5.3).
"""

from __future__ import annotations

# code -> (中文, English)
SEX: dict[str, tuple[str, str]] = {
    "0": ("未知的性别", "unknown"),
    "1": ("男", "male"),
    "2": ("女", "female"),
    "9": ("未说明的性别", "not stated"),
}

_NATIONS = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
]
NATION: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(_NATIONS, start=1)}
NATION["97"] = "其他"
NATION["98"] = "外国血统中国籍人士"
# One SDK (reference S5) numbers these two 57/58; accept that form too.
NATION_ALIASES = {"57": "97", "58": "98"}

# Province-level divisions (GB/T 2260) plus 81/82/83 used by HK/Macao/Taiwan permits.
PROVINCE: dict[str, str] = {
    "11": "北京",
    "12": "天津",
    "13": "河北",
    "14": "山西",
    "15": "内蒙古",
    "21": "辽宁",
    "22": "吉林",
    "23": "黑龙江",
    "31": "上海",
    "32": "江苏",
    "33": "浙江",
    "34": "安徽",
    "35": "福建",
    "36": "江西",
    "37": "山东",
    "41": "河南",
    "42": "湖北",
    "43": "湖南",
    "44": "广东",
    "45": "广西",
    "46": "海南",
    "50": "重庆",
    "51": "四川",
    "52": "贵州",
    "53": "云南",
    "54": "西藏",
    "61": "陕西",
    "62": "甘肃",
    "63": "青海",
    "64": "宁夏",
    "65": "新疆",
    "71": "台湾",
    "81": "香港",
    "82": "澳门",
    "83": "台湾",
}
HMT_REGIONS = {"81": "香港", "82": "澳门", "83": "台湾"}


def sex_name(code: str) -> str:
    return SEX.get(code, ("未知", "unknown"))[0]


def nation_name(code: str) -> str:
    return NATION.get(NATION_ALIASES.get(code, code), "")
