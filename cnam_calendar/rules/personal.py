"""A learner's own deadlines, and which events of the year concern them.

PURE: the learner, the schedule and the working-day calendar are passed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.engine import KIND_LABELS, personal_deadline
from cnam_calendar.rules.model import Deadline, Event, Schedule

if TYPE_CHECKING:  # pragma: no cover
    from cnam_calendar.rules.model import Learner


def learner_deadlines(learner: Learner, schedule: Schedule, ouvres: WorkingCalendar) -> list[Deadline]:
    """Return the personal deadlines that follow from the learner's own dates and status."""
    centre = schedule.centre
    out = []
    if learner.cpf_validated is not None:
        out.append(personal_deadline("cpf-confirmation", learner.cpf_validated, centre, ouvres))
    if learner.dossier_received is not None:
        out.append(personal_deadline("withdrawal", learner.dossier_received, centre, ouvres))
    if learner.status == "apprentissage" and learner.training_start is not None:
        out.append(personal_deadline("apprenticeship-contract", learner.training_start, centre, ouvres))
    return out


def deadline_event(d: Deadline) -> Event:
    """Present a personal deadline as a one-day event of the feed."""
    return Event(id=d.rule, kind="deadline", title=d.title, title_en=d.title_en, start=d.deadline,
                 end=d.deadline, explanation=d.explanation, source=d.source,
                 categories=(KIND_LABELS["deadline"][0], "Personnel"))


def applies(event: Event, learner: Learner) -> bool:
    """Tell whether an institutional deadline concerns the learner (CPF ones only CPF learners)."""
    if event.id.startswith("cpf-latest-validation"):
        return learner.status == "cpf"
    return True
