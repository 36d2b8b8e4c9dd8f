"""Frozen data the engine reads and returns: centres, settings, events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from types import MappingProxyType


def _frozen_map(value: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Source:
    """The answer of a FAQ (or an article of law) a rule comes from."""

    document: str
    question: str
    quote: str
    url: str = ""

    def cite(self) -> str:
        """Return the one-line citation used in descriptions."""
        text = f"{self.document}, « {self.question} » : {self.quote}"
        return f"{text} <{self.url}>" if self.url else text


@dataclass(frozen=True)
class Step:
    """One step of a derivation, as data: its ``kind`` (see ``text.explain``) and its values (dates,
    counts, holiday names, the override's file and reason). ``text.explain.render`` writes it."""

    kind: str
    values: Mapping = field(default_factory=_frozen_map)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen_map(self.values))

    def __hash__(self) -> int:  # events are cache keys (ical/personal.py)
        return hash((self.kind, tuple(sorted(self.values.items()))))

    def data(self) -> dict:
        """Return the step as JSON-ready data: its kind and values (dates in ISO 8601, steps nested)."""
        def plain(value):
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, tuple | list):
                return [plain(x) for x in value]
            return value.data() if isinstance(value, Step) else value

        return {"kind": self.kind, "values": {k: plain(v) for k, v in self.values.items()}}


def step(kind: str, **values) -> Step:
    """Return the step ``kind`` with ``values``."""
    return Step(kind, values)


@dataclass(frozen=True)
class Event:
    """One dated item of a schedule; ``end`` is inclusive."""

    id: str
    kind: str
    title: str
    title_en: str
    start: date
    end: date
    explanation: tuple[Step, ...]
    source: Source | None = None
    categories: tuple[str, ...] = ()
    overridden: bool = False

    def label(self, lang: str = "fr") -> str:
        """Return the title in ``lang`` (fr or en)."""
        return self.title_en if lang == "en" else self.title


@dataclass(frozen=True)
class Deadline:
    """A personal deadline derived from a learner's own date."""

    rule: str
    origin: date
    deadline: date
    title: str
    title_en: str
    explanation: tuple[Step, ...]
    source: Source | None = None


SEMESTERS = ("S1", "S2", "annual")
MODALITIES = ("cours du soir", "en ligne planifié", "co-modal", "hybride", "FOAD")


@dataclass(frozen=True)
class UE:
    """A teaching unit of a centre's catalogue; FOAD units have no weekday or times."""

    code: str
    title: str
    ects: float
    semester: str  # one of SEMESTERS
    modality: str  # one of MODALITIES
    site: str = ""  # a Site.id of the centre, or "" (online)
    weekday: int | None = None  # 0 = Monday
    start: time | None = None
    end: time | None = None
    room: str = ""

    @property
    def timed(self) -> bool:
        """Tell whether the UE meets weekly at a fixed time."""
        return self.weekday is not None and self.start is not None and self.end is not None


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    address: str = ""


@dataclass(frozen=True)
class Contact:
    email: str = ""
    phone: str = ""
    address: str = ""
    url: str = ""


@dataclass(frozen=True)
class HoursRule:
    """How many hours of class a UE of n ECTS should have."""

    per_ects: float = 8.0
    tolerance: float = 0.10
    table: Mapping[int, float] = field(default_factory=_frozen_map)

    def expected(self, ects: float) -> float:
        """Return the expected hours for ``ects`` credits."""
        if float(ects).is_integer() and int(ects) in self.table:
            return float(self.table[int(ects)])
        return self.per_ects * ects


@dataclass(frozen=True)
class RuleSettings:
    """The numbers and flags of a centre; the rules themselves live in the engine."""

    cpf_working_days: int = 3
    withdrawal_days: int = 10
    apprenticeship_months: int = 3
    registration_closes_at_course_start: bool = False
    add_drop_until_end_of_february: bool = False
    require_override_reason: bool = False  # a date pinned in [years.Y].overrides must give its reason
    hours: HoursRule = field(default_factory=HoursRule)


@dataclass(frozen=True)
class ReminderPolicy:
    """When reminders are due, in the centre's local time."""

    time: time = time(9, 0)
    offsets_days: tuple[int, ...] = (7, 1)
    exam_offsets_days: tuple[int, ...] = (2, 1)
    sender: str = ""  # From of the e-mails (default: the centre's contact e-mail)
    unsubscribe: str = ""  # mailbox of the opt-out requests (default: the sender)
    notice_holdback_minutes: int = 30  # a change notice waits this long, so successive edits make one


@dataclass(frozen=True)
class Override:
    """An exact date that replaces a derivation."""

    event_id: str
    start: date | None = None
    end: date | None = None
    reason: str = ""


@dataclass(frozen=True)
class Closure:
    id: str
    label: str
    start: date
    end: date


@dataclass(frozen=True)
class YearSettings:
    overrides: Mapping[str, Override] = field(default_factory=_frozen_map)
    closures: tuple[Closure, ...] = ()


@dataclass(frozen=True)
class Centre:
    """A Cnam centre as described by its file in calendars/."""

    id: str
    name: str
    timezone: str = "Europe/Paris"
    holiday_subdivision: str | None = None
    sites: tuple[Site, ...] = ()
    departments: tuple[str, ...] = ()
    contact: Contact = field(default_factory=Contact)
    faq_url: str = ""
    faq_name: str = ""  # the document name of the centre's own FAQ, as sources cite it
    rules: RuleSettings = field(default_factory=RuleSettings)
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)
    years: Mapping[int, YearSettings] = field(default_factory=_frozen_map)
    path: str = ""

    @property
    def file_name(self) -> str:
        """Return the centre file's name (never its full path: it goes into published descriptions)."""
        return self.path.replace("\\", "/").rsplit("/", 1)[-1] if self.path else f"{self.id}.toml"

    @property
    def catalogue_file(self) -> str:
        """Return the path of the centre's UE catalogue, beside its file."""
        head = self.path[: len(self.path) - len(self.file_name)] if self.path else ""
        return f"{head}{self.id}.ues.csv"

    def year(self, year: int) -> YearSettings:
        """Return the settings of academic year ``year`` (empty when none)."""
        return self.years.get(year, YearSettings())


@dataclass(frozen=True)
class Schedule:
    """Every institutional event of one centre and academic year."""

    centre: Centre
    year: int
    events: tuple[Event, ...]

    @property
    def label(self) -> str:
        return f"{self.year}-{self.year + 1}"

    def get(self, event_id: str) -> Event | None:
        """Return the event with this id, or None."""
        for event in self.events:
            if event.id == event_id:
                return event
        return None


@dataclass(frozen=True, slots=True)
class Learner:
    """A learner as the roster gives them; dates are None when the column is empty."""

    id: str
    email: str
    first_name: str
    last_name: str
    centre: str
    department: str
    status: str  # one of inputs.roster.STATUSES
    ues: tuple[str, ...] = ()
    dossier_received: date | None = None
    cpf_validated: date | None = None
    training_start: date | None = None
    lang: str = "fr"
