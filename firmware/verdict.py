"""The verdict vocabulary: every colour, action, prompt and source, and every rule that
turns what is known about a person into what the door does. Kiosk, gateway, board and
the shop unit all use this module and no other, so a rule is written once.

It runs unchanged on MicroPython (no typing, dataclasses or f-strings), like protocol.py.

A verdict is (colour, action, prompt, source):
- colour: what is known of the person (green | yellow | red | unknown);
- action: what the door does (open | hold | refuse);
- prompt: what the screen shows (a key of PROMPT_TEXT); the voice says `spoken(prompt)`;
- source: who decided (platform | cache | stale | kiosk | timeout).
Only a checked green opens with a green light; anything that could not be checked holds
the person for the person on duty ("manual check").
"""

GREEN = "green"
YELLOW = "yellow"
RED = "red"
UNKNOWN = "unknown"
COLOURS = (GREEN, YELLOW, RED, UNKNOWN)

OPEN = "open"
HOLD = "hold"
REFUSE = "refuse"
ACTIONS = (OPEN, HOLD, REFUSE)

PLATFORM = "platform"  # the city platform answered now
CACHE = "cache"  # a colour the gateway looked up recently, within its time-to-live
STALE = "stale"  # the platform did not answer; the cached colour is past its time-to-live
KIOSK = "kiosk"  # the kiosk decided itself (a signed code, a red-listed ID card)
TIMEOUT = "timeout"  # nobody could decide in time: the person on duty checks
SOURCES = (PLATFORM, CACHE, STALE, KIOSK, TIMEOUT)
# Never on the wire: an entry written in a paper register during an outage and keyed in
# afterwards; its colour is what staff saw then (gateway/registration.py).
TRANSCRIBED = "transcribed"

# Chinese first, English second: what the screen facing the visitor shows. Prompts that
# are not verdicts (show_code, place_card, read_failed, not_health_code) are here too, and
# so are the prompts only ever spoken (SPOKEN) and the staff prompts at the kiosk.
PROMPT_TEXT = {
    "pass": ("绿码，请通行", "Green code, please pass"),
    "wait_staff": ("黄码，请稍候，工作人员马上为您服务",
                   "Yellow code: please wait, staff will be with you shortly"),
    "no_entry": ("红码，请稍候，工作人员马上为您服务",
                 "Red code: please wait, staff will be with you shortly"),
    "manual_check": ("无法核验，请工作人员人工核验", "Cannot verify, staff will check you"),
    "stale_status": ("状态未更新，请人工核验", "Status not current, staff will check"),
    "not_health_code": ("这不是健康码", "This is not a health code"),
    "show_code": ("请出示健康码", "Please show your health code"),
    "place_card": ("请放置身份证", "Please place your ID card"),
    "read_failed": ("读取失败，请重试", "Read failed, please try again"),
    "high_temperature": ("体温偏高，请稍候，工作人员为您复测",
                         "Temperature high: please wait, staff will check again"),
    # spoken in place of a verdict's own text: no colour is ever said aloud (SPOKEN)
    "go_ahead": ("请通行", "Please go ahead"),
    "staff_coming": ("请稍候，工作人员马上为您服务",
                     "Please wait, staff will be with you shortly"),
    # a staff card at the kiosk (duty roster, gate opened by the person on duty)
    "duty_on": ("值班签到成功", "Signed on for duty"),
    "duty_off": ("值班签退成功", "Signed off duty"),
    "staff_unknown": ("此卡不是本场所工作人员卡", "This card is not a staff card of this site"),
    "duty_no_answer": ("签到未成功，请重试", "Not signed on, please try again"),
    "gate_by_staff": ("工作人员已放行，请通行", "Opened by staff, please go ahead"),
    "yellow_no_entry": ("黄码，本场所不能进入，工作人员马上为您服务",
                        "Yellow code: no entry to this venue, staff will be with you shortly"),
    "test_required": ("需近期核酸证明，请人工核验", "Recent test needed, staff will check"),
}
# The prompts a verdict message may carry (the wire vocabulary, docs/protocol.md).
PROMPTS = (
    "pass", "wait_staff", "no_entry", "manual_check", "stale_status",
    "not_health_code", "show_code", "place_card", "read_failed",
    "yellow_no_entry", "test_required", "high_temperature",
)
# What the voice says for a prompt whose screen text names a colour. The queue behind the
# visitor hears the same neutral words for green, yellow and red alike; the colour is
# shown only on the screen facing the visitor (一码一守: abnormal codes handled discreetly).
SPOKEN = {"pass": "go_ahead", "wait_staff": "staff_coming", "no_entry": "staff_coming",
          "yellow_no_entry": "staff_coming", "high_temperature": "staff_coming"}
COLOUR_WORDS = ("绿", "黄", "红", "green", "yellow", "red")


def spoken(prompt):
    """The prompt the voice says for `prompt` (never one that names a colour)."""
    return SPOKEN.get(prompt, prompt)


# What a known colour means at the door: (action, prompt).
_FOR_COLOUR = {
    GREEN: (OPEN, "pass"),
    YELLOW: (HOLD, "wait_staff"),
    RED: (REFUSE, "no_entry"),
    UNKNOWN: (HOLD, "manual_check"),
}


class Verdict:
    """One verdict for one scan (event_id "" when nothing was recorded)."""

    def __init__(self, event_id, colour, action, prompt, source):
        self.event_id = event_id
        self.colour = colour
        self.action = action
        self.prompt = prompt
        self.source = source

    def __eq__(self, other):
        return isinstance(other, Verdict) and self.fields() == other.fields() \
            and self.event_id == other.event_id

    def __hash__(self):
        return hash((self.event_id,) + self.fields())

    def __repr__(self):
        return "Verdict(%r, %r, %r, %r, %r)" % (
            self.event_id, self.colour, self.action, self.prompt, self.source)

    def fields(self):
        """(colour, action, prompt, source): what a scan or verdict message carries."""
        return (self.colour, self.action, self.prompt, self.source)

    def with_id(self, event_id):
        return Verdict(event_id, self.colour, self.action, self.prompt, self.source)

    @classmethod
    def from_message(cls, msg):
        """From a verdict message, or from a scan that carries the kiosk's own decision."""
        return cls(msg["id"], msg["colour"], msg["action"], msg["prompt"], msg["source"])


def for_colour(event_id, colour, source=PLATFORM):
    """The gateway's rule for a looked-up colour. A stale colour (the platform did not
    answer; the cached entry is past its time-to-live) never opens the gate: the person on
    duty decides, told what was last known. A stale red still refuses."""
    if colour not in _FOR_COLOUR:
        colour = UNKNOWN
    action, prompt = _FOR_COLOUR[colour]
    if source == STALE and colour != RED:
        action, prompt = HOLD, "stale_status"
    return Verdict(event_id, colour, action, prompt, source)


def with_temperature(verdict, temp_dc, threshold_dc):
    """A visitor measured at or above the threshold (tenths of a degree Celsius) takes
    the manual-check path: held for the person on duty, whatever the colour, and never
    let through by the gate. A refusal stays a refusal; no reading changes nothing."""
    if temp_dc is None or threshold_dc is None or temp_dc < threshold_dc:
        return verdict
    if verdict.action == REFUSE:
        return verdict
    return Verdict(verdict.event_id, verdict.colour, HOLD, "high_temperature", verdict.source)


def transcribed(event_id, colour_seen):
    """A paper register entry: the colour staff saw at the door, under the usual rule."""
    return for_colour(event_id, colour_seen, TRANSCRIBED)


def manual_check(event_id, gate_unchecked="closed", prompt="manual_check"):
    """Nothing could be checked in time: hold for the person on duty, or — where the site
    lets people through and checks by hand (gate_unchecked = "open") — open, never green."""
    action = OPEN if gate_unchecked == "open" else HOLD
    return Verdict(event_id, UNKNOWN, action, prompt, TIMEOUT)


def red_listed(event_id):
    """A credential on the site's signed red list, judged on the kiosk."""
    return Verdict(event_id, RED, REFUSE, "no_entry", KIOSK)


# What the door does with a signed code the kiosk judged itself. Only a fully valid code
# opens. A red-listed code is refused; every other failure holds the person for the person
# on duty ("this code did not check out" is not "this person is red"); a damaged read
# asks for a rescan; a code that is not a health code says so.
_SIGNED_FAILURES = {
    "red_listed": (RED, REFUSE, "no_entry"),
    "corrupted": (UNKNOWN, HOLD, "read_failed"),
    "not_signed_code": (UNKNOWN, HOLD, "not_health_code"),
}


def for_signed_code(event_id, valid, reason):
    """The kiosk's verdict on a signed code from verify(): valid, or the failure reason."""
    if valid:
        return Verdict(event_id, GREEN, OPEN, "pass", KIOSK)
    colour, action, prompt = _SIGNED_FAILURES.get(reason, (UNKNOWN, HOLD, "manual_check"))
    return Verdict(event_id, colour, action, prompt, KIOSK)


def may_carry_colour(source):
    """Only a decision the kiosk made itself may travel with a scan."""
    return source in (KIOSK, TIMEOUT)


# --- entry policies: what a category of venue asks beyond the colour -------------------
# Supervising departments set measures per category of venue (seed 002): a hospital or a
# pharmacy turns yellow codes away instead of holding them, a care home may ask for a
# recent negative test, a door may never let anyone through unchecked. The gateway sets
# the policy per category and applies it to its verdicts; each kiosk learns its door's
# policy from the gateway (protocol kind `policy`) and applies it to the decisions it
# makes itself, with this one function.

UNCHECKED_SITE = "site"  # what the site's gate_unchecked setting says
POLICY_UNCHECKED = (UNCHECKED_SITE, HOLD)
POLICY_YELLOW = (HOLD, REFUSE)
MAX_TEST_WITHIN_H = 24 * 14
# a test sampled this far "in the future" is a clock or data error, not a recent test
TEST_CLOCK_LEEWAY_MS = 10 * 60 * 1000


class Policy:
    """yellow: hold (the person on duty decides) | refuse; test_within_h: 0 (no test
    needed) or the hours within which a negative test must have been sampled;
    unchecked: site (the site's gate setting) | hold (never open on an unchecked scan)."""

    def __init__(self, yellow=HOLD, test_within_h=0, unchecked=UNCHECKED_SITE):
        if yellow not in POLICY_YELLOW:
            raise ValueError("yellow must be hold or refuse")
        if not isinstance(test_within_h, int) or isinstance(test_within_h, bool) \
                or not 0 <= test_within_h <= MAX_TEST_WITHIN_H:
            raise ValueError("test_within_h must be 0-%d hours" % MAX_TEST_WITHIN_H)
        if unchecked not in POLICY_UNCHECKED:
            raise ValueError("unchecked must be site or hold")
        self.yellow = yellow
        self.test_within_h = test_within_h
        self.unchecked = unchecked

    def __eq__(self, other):
        return isinstance(other, Policy) and self.fields() == other.fields()

    def __hash__(self):
        return hash(self.fields())

    def __repr__(self):
        return "Policy(%r, %r, %r)" % self.fields()

    def fields(self):
        return (self.yellow, self.test_within_h, self.unchecked)

    def to_dict(self):
        return {"yellow": self.yellow, "test_within_h": self.test_within_h,
                "unchecked": self.unchecked}

    @classmethod
    def from_dict(cls, d):
        """From a policy message or a config table; ValueError names what is wrong."""
        if not isinstance(d, dict):
            raise ValueError("a policy is an object")
        unknown = [k for k in d if k not in ("yellow", "test_within_h", "unchecked")]
        if unknown:
            raise ValueError("unknown policy field " + str(unknown[0]))
        return cls(d.get("yellow", HOLD), d.get("test_within_h", 0),
                   d.get("unchecked", UNCHECKED_SITE))

    def stricter(self, other):
        """Both policies at once (a kiosk enrolled at doors of two categories)."""
        tests = [h for h in (self.test_within_h, other.test_within_h) if h]
        return Policy(REFUSE if REFUSE in (self.yellow, other.yellow) else HOLD,
                      min(tests) if tests else 0,
                      HOLD if HOLD in (self.unchecked, other.unchecked) else UNCHECKED_SITE)


NO_POLICY = Policy()


def test_is_recent(policy, tested_ms, now_ms):
    """A negative test sampled within the policy's hours of `now_ms` (None: none known)."""
    if tested_ms is None:
        return False
    age = now_ms - tested_ms
    return -TEST_CLOCK_LEEWAY_MS <= age <= policy.test_within_h * 3600000


def apply_policy(verdict, policy, tested_ms, now_ms):
    """The door's policy on a verdict. A yellow is refused where the category refuses
    yellow (a stale yellow too: a stale red refuses as well); a green that would open
    without the negative test the category asks for is held for the person on duty; an
    unchecked person is held where the category never lets anyone through unchecked.
    Never makes a verdict more permissive."""
    v = verdict
    if v.colour == YELLOW and policy.yellow == REFUSE and v.action != REFUSE:
        return Verdict(v.event_id, YELLOW, REFUSE, "yellow_no_entry", v.source)
    if v.action == OPEN and v.colour == GREEN and policy.test_within_h \
            and not test_is_recent(policy, tested_ms, now_ms):
        return Verdict(v.event_id, GREEN, HOLD, "test_required", v.source)
    if v.action == OPEN and v.colour != GREEN and policy.unchecked == HOLD:
        return Verdict(v.event_id, v.colour, HOLD, v.prompt, v.source)
    return v


# --- looks: what the door shows for a verdict -----------------------------------------

class Look:
    """Lights, pattern, buzzer tone and gate for one verdict; the board knows exactly
    these values (firmware/board_link.py LIGHTS, PATTERNS, TONES)."""

    def __init__(self, light, pattern, tone, gate):
        self.light = light  # green | amber | red
        self.pattern = pattern  # steady | blink | slow_blink
        self.tone = tone  # buzzer pattern name
        self.gate = gate  # open the gate

    def __eq__(self, other):
        return isinstance(other, Look) and (self.light, self.pattern, self.tone, self.gate) \
            == (other.light, other.pattern, other.tone, other.gate)

    def __repr__(self):
        return "Look(%r, %r, %r, %r)" % (self.light, self.pattern, self.tone, self.gate)


LOOKS = {
    "open": Look("green", "steady", "pass", True),
    "hold": Look("amber", "slow_blink", "attention", False),
    "refuse": Look("red", "blink", "deny", False),
    # a colour from a stale cache: not fresh, so not green and not the usual hold
    "stale": Look("amber", "blink", "manual", False),
    # nothing could be checked and the site's gate fails open: amber, never green
    "open_unchecked": Look("amber", "steady", "manual", True),
    # the person on duty opened the gate after a manual check: amber, never green
    "by_staff": Look("amber", "steady", "manual", True),
}


def look_for(verdict):
    """Green light only for a checked green person."""
    if verdict.action == OPEN:
        return LOOKS["open"] if verdict.colour == GREEN else LOOKS["open_unchecked"]
    if verdict.source == STALE and verdict.action == HOLD:
        return LOOKS["stale"]
    return LOOKS[verdict.action]
