"""The earning rules and tiers of programmes, as purchases read them: each programme's kept per
process for the version the database holds (loyalty/rules_versions.py), so that a purchase reads
them only after they changed.

A purchase asks with programmes read in its own transaction (with `rules_version`), so it sees a
change committed before it, and its own transaction's changes: a new version is a new read. The
rule and tier objects kept are shared by the purchases that follow; nothing may change them.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Prefetch

from crm.models import Store

from ..models import Program
from ..tiers import Tier
from ..transactions import EarningRule


@dataclass(frozen=True)
class ProgrammeRules:
    rules: list[EarningRule]
    tiers: list[Tier]  # lowest first


_kept: dict[int, tuple[UUID, ProgrammeRules]] = {}


def _version(program: Program) -> UUID | None:
    try:
        return program.rules_version.version
    except Program.rules_version.RelatedObjectDoesNotExist:
        return None  # not yet committed by the trigger's transaction, or not a saved programme


def programme_rules(programs: Iterable[Program]) -> dict[int, ProgrammeRules]:
    """Each programme's rules and tiers, by programme id; those of programmes whose version is
    not kept are read (in two queries and a prefetch for them all) and kept."""
    programs = list(programs)
    found: dict[int, ProgrammeRules] = {}
    missing: list[Program] = []
    for program in programs:
        kept = _kept.get(program.pk)
        if kept is not None and kept[0] == _version(program):
            found[program.pk] = kept[1]
        else:
            missing.append(program)
    if missing:
        rules: dict[int, list[EarningRule]] = defaultdict(list)
        for rule in EarningRule.objects.filter(program__in=missing).prefetch_related(
            Prefetch("stores", queryset=Store.objects.only("pk"))
        ):
            rules[rule.program_id].append(rule)
        tiers: dict[int, list[Tier]] = defaultdict(list)
        for tier in Tier.objects.filter(program__in=missing).order_by("program", "number"):
            tiers[tier.program_id].append(tier)
        for program in missing:
            read = ProgrammeRules(rules[program.pk], tiers[program.pk])
            found[program.pk] = read
            version = _version(program)
            if version is not None:
                _kept[program.pk] = (version, read)
    return found
